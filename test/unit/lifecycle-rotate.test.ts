// The jail's start and the leader's role check (cook/rotate.ts) together, against a real PostgreSQL named
// as the leader by the Consul stand-in: a start that dies between rendering and the check converges.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CookError } from '../../cook/errors.js'
import { startJail, statePaths } from '../../cook/lifecycle.js'
import { jail } from '../jail.js'
import { debianLayout, startPostgres } from '../pg.js'

t.test(
  'a start that fails after rendering a new KEKPASS keeps the old one until the roles have the new',
  async (t) => {
    const pg = startPostgres(t)
    pg.sql(
      "SET password_encryption = 'scram-sha-256';\nALTER ROLE postgres PASSWORD 'kek-A-sixteen-chars';\n",
    )
    const j = await jail(t, { KEKPASS: 'kek-A-sixteen-chars' })
    const opts = j.opts({
      pgLayout: debianLayout(''),
      timeouts: { consulLeaderMs: 5000, patroniLiveMs: 10_000, leaderMs: 1000 },
    })
    await startJail(j.params(), opts)
    const previous = statePaths(j.root).previousSuperuser
    const member = (port: number) => JSON.stringify({ conn_url: `postgres://${pg.host}:${port}/postgres` })

    // GIVEN a leader that does not answer (WHEN the start with the new KEKPASS has rendered patroni.yml)
    j.consul.values.set('/service/postgresql/leader', 'pg9')
    j.consul.values.set('/service/postgresql/members/pg9', member(1))
    const e = await startJail(j.params({ KEKPASS: 'kek-B-sixteen-chars' }), opts).catch((x: unknown) => x)
    t.ok(e instanceof CookError, 'the start stops before Patroni reloads')
    t.match((e as Error).message, /leader \(pg9 at .*:1\) did not answer within 1 s/)
    t.match(readFileSync(join(j.root, 'usr/local/etc/patroni/patroni.yml'), 'utf8'), /kek-B/, 'rendered')
    t.equal(statSync(previous).mode & 0o777, 0o600, 'the replaced password is kept, root-only')
    t.equal(readFileSync(previous, 'utf8'), 'kek-A-sixteen-chars')
    t.notOk(
      j.logText().includes('kek-A-sixteen-chars') || j.logText().includes('kek-B-sixteen-chars'),
      'neither value in the log',
    )

    // THEN the next start logs in with the kept password, rotates, and forgets it
    j.consul.values.set('/service/postgresql/members/pg9', member(pg.port))
    const r = await startJail(j.params({ KEKPASS: 'kek-B-sixteen-chars' }), opts)
    t.equal(r.kind, 'reseason')
    t.match(j.logText(), /rotated on the leader pg9: postgres \(KEKPASS\)/)
    t.equal(
      pg.login('postgres', 'kek-B-sixteen-chars', 'SELECT 1').status,
      0,
      'the leader has the new superuser password',
    )
    t.notOk(existsSync(previous), 'forgotten once the roles have it')
  },
)
