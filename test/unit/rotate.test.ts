// cook/rotate.ts against a real PostgreSQL: the leader named in a Consul KV stand-in (raw values, as Patroni
// writes them), the roles' passwords checked by logging in as the roles themselves.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { spawnSync } from 'node:child_process'
import { hkdfSync } from 'node:crypto'
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PATHS } from '../../cook/layout.js'
import { CookError } from '../../cook/errors.js'
import { StepLog } from '../../cook/log.js'
import { validate, type RawParams } from '../../cook/params.js'
import { sql } from '../../cook/quote.js'
import { renderedSuperuserPassword, rotateRoles } from '../../cook/rotate.js'
import { basicEnv, tempDir } from '../helpers.js'
import { lookupUser } from '../../cook/users.js'
import { asUser } from '../../scripts/lib/procs.js'
import { debianLayout, PG_BIN, startPostgres, type Postgres } from '../pg.js'

/** Consul's KV API, `?raw` reads only: what cook/probes.ts consulValue asks. */
async function consulKv(
  t: { teardown: (fn: () => Promise<void>) => void },
  kv: Map<string, string>,
): Promise<string> {
  const server = createServer((req, res) => {
    const m = /^\/v1\/kv(\/[^?]*)\?raw$/.exec(req.url ?? '')
    const value = m ? kv.get(decodeURI(m[1] ?? '')) : undefined
    if (value === undefined) res.writeHead(404).end()
    else res.writeHead(200).end(value)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('rotateRoles', async (t) => {
  const pg = startPostgres(t)
  pg.sql(
    [
      "SET password_encryption = 'scram-sha-256';",
      "ALTER ROLE postgres PASSWORD 'old-kek';",
      "CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'old-rep';",
      "CREATE ROLE rewinder LOGIN PASSWORD 'old-rewind';",
      "CREATE ROLE admin LOGIN CREATEROLE CREATEDB PASSWORD 'old-adm';",
      "CREATE ROLE monitor LOGIN PASSWORD 'old-mon' IN ROLE pg_monitor;",
      '',
    ].join('\n'),
  )
  const kv = new Map<string, string>()
  const consulHttp = await consulKv(t, kv)
  const leader = (name: string) => {
    kv.set('/service/rot/leader', name)
    kv.set(
      '/service/rot/members/pg1',
      JSON.stringify({ conn_url: `postgres://${pg.host}:${pg.port}/postgres` }),
    )
  }
  const lines: string[] = []
  const opts = (previous: (string | undefined)[] = []) => ({
    log: new StepLog({ out: (l) => lines.push(l) }),
    consulHttp,
    layout: debianLayout(''),
    previous,
    timeoutMs: 3000,
    intervalMs: 50,
  })
  const params = (over: RawParams) =>
    validate({ ...basicEnv(), NODENAME: 'pg2', SCOPE: 'rot', ...over }, { allowLoopback: true })
  const works = (user: string, password: string) => pg.login(user, password, 'SELECT 1').status === 0
  const next = params({
    // `:` and `\` must be escaped in the pgpass file cook logs in with.
    KEKPASS: 'new-kek:a\\b-long',
    REPPASS: 'new-rep-long-enough',
    REWINDPASS: 'new-rewind-long-enough',
    ADMPASS: 'new-adm-long-pw',
    MONPASS: 'new-mon-long-enough',
  })

  t.test('no leader in the DCS: nothing to check', async (t) => {
    t.same(await rotateRoles(next, opts()), { kind: 'no-leader' })
    t.ok(works('postgres', 'old-kek'))
  })

  t.test('a KEKPASS the leader does not know, and no previous one: refused, nothing changed', async (t) => {
    leader('pg1')
    const e = await rotateRoles(next, opts(['another-old'])).catch((x: unknown) => x)
    t.ok(e instanceof CookError, 'a CookError: the start stops before Patroni gets the new passwords')
    t.match((e as Error).message, /refuses the superuser "postgres" .*OLDKEKPASS/)
    t.notOk((e as Error).message.includes('new-kek'), 'the message names no password')
    t.ok(works('postgres', 'old-kek') && works('replicator', 'old-rep'), 'every role keeps its password')
  })

  t.test('with the previous superuser password: every changed role rotates, once', async (t) => {
    lines.length = 0
    const r = await rotateRoles(next, opts([undefined, 'old-kek']))
    t.same(r, {
      kind: 'checked',
      leader: 'pg1',
      local: false,
      rotated: [
        'postgres (KEKPASS)',
        'replicator (REPPASS)',
        'rewinder (REWINDPASS)',
        'admin (ADMPASS)',
        'monitor (MONPASS)',
        'admin (CREATEROLE removed)',
      ],
      missing: [],
      standby: [],
    })
    for (const [user, oldPw, newPw] of [
      ['postgres', 'old-kek', 'new-kek:a\\b-long'],
      ['replicator', 'old-rep', 'new-rep-long-enough'],
      ['rewinder', 'old-rewind', 'new-rewind-long-enough'],
      ['admin', 'old-adm', 'new-adm-long-pw'],
      ['monitor', 'old-mon', 'new-mon-long-enough'],
    ] as const) {
      t.notOk(works(user, oldPw), `${user}: the old password is refused`)
      t.ok(works(user, newPw), `${user}: the new one is accepted`)
    }
    const attrs = pg.sql(
      "SELECT rolname, rolsuper, rolreplication, rolcreaterole FROM pg_roles WHERE rolname IN ('postgres', 'replicator', 'admin') ORDER BY 1",
    )
    // PostgreSQL 15: CREATEROLE would let admin grant itself pg_execute_server_program (admin-role.sql).
    t.equal(attrs, 'admin|f|f|f\npostgres|t|t|t\nreplicator|f|t|f\n', "the passwords, and admin's CREATEROLE")
    const text = lines.join('\n')
    t.match(text, /rotated on the leader pg1: postgres \(KEKPASS\), replicator \(REPPASS\)/)
    t.notOk(/new-|old-|SCRAM-SHA-256\$/.test(text), 'the log names roles, never a password or verifier')

    const again = await rotateRoles(next, opts(['old-kek']))
    t.match(again, { kind: 'checked', rotated: [] }, 'a second run changes nothing')
  })

  t.test('only ADMPASS changes: the current KEKPASS logs in', async (t) => {
    const r = await rotateRoles({ ...next, ADMPASS: 'newer-adm' }, opts())
    t.match(r, { kind: 'checked', rotated: ['admin (ADMPASS)'] })
    t.ok(works('admin', 'newer-adm'))
  })

  t.test('a role that does not exist is reported, not created', async (t) => {
    pg.sql('DROP ROLE rewinder;')
    const r = await rotateRoles({ ...next, REWINDPASS: 'x'.repeat(16) }, opts())
    t.match(r, { kind: 'checked', rotated: [], missing: ['rewinder'] })
    t.equal(pg.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'rewinder'"), '0\n')
  })

  t.test('a leader in recovery: a standby cluster is left alone, a promotion is waited for', async (t) => {
    const standby = startStandby(t, pg)
    kv.set(
      '/service/rot/members/pg1',
      JSON.stringify({ conn_url: `postgres://${pg.host}:${standby}/postgres` }),
    )
    const stale = { ...next, ADMPASS: 'changed-on-a-standby' }
    const e = await rotateRoles(stale, { ...opts(), timeoutMs: 1000 }).catch((x: unknown) => x)
    t.match(
      (e as Error).message,
      /did not answer within 1 s \(last: .*still in recovery/,
      'not a standby cluster',
    )
    kv.set('/service/rot/config', JSON.stringify({ ttl: 30, standby_cluster: { host: '192.0.2.9' } }))
    const r = await rotateRoles(stale, opts())
    t.match(r, { kind: 'checked', rotated: [], standby: ['admin (ADMPASS)'] })
    t.match(lines.join('\n'), /leads a standby cluster: .* change these passwords there: admin \(ADMPASS\)/)
    kv.delete('/service/rot/config')
  })

  t.test('this member leads: the local socket', async (t) => {
    const local = { ...next, NODENAME: 'pg1', ADMPASS: 'via-socket' }
    // The jail's socket (PATHS.pgSocketDir/.s.PGSQL.5432 under the layout's base) is the test server's own.
    const base = tempDir(t, 'cook-sock-')
    mkdirSync(join(base, PATHS.pgSocketDir), { recursive: true })
    symlinkSync(join(pg.socketDir, `.s.PGSQL.${pg.port}`), join(base, PATHS.pgSocketDir, '.s.PGSQL.5432'))
    kv.set('/service/rot/members/pg1', JSON.stringify({ conn_url: 'postgres://192.0.2.1:5432/postgres' }))
    const r = await rotateRoles(local, {
      ...opts(),
      layout: debianLayout(base),
    })
    t.match(r, { kind: 'checked', local: true, rotated: ['admin (ADMPASS)'] })
  })
})

/** A hot standby of `pg` (pg_basebackup -R over the trusted socket) on the next port; its port. */
function startStandby(t: { teardown: (fn: () => void) => void }, pg: Postgres): number {
  const dir = tempDir(t, 'cook-standby-')
  chmodSync(dir, 0o755)
  const data = join(dir, 'data')
  const port = pg.port + 1
  const asPostgres = (argv: string[]) => {
    const [cmd = '', ...args] = asUser('postgres', argv)
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${argv[0]}: ${r.stderr}`)
  }
  const pgUser = lookupUser('postgres')
  if (!pgUser) throw new Error('no postgres user')
  chownSync(dir, pgUser.uid, pgUser.gid)
  asPostgres([
    `${PG_BIN}/pg_basebackup`,
    '-D',
    data,
    '-h',
    pg.socketDir,
    '-p',
    String(pg.port),
    '-U',
    'postgres',
    '-R',
  ])
  const o = `-c listen_addresses=${pg.host} -p ${port} -c unix_socket_directories=${dir}`
  asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-o', o, '-l', join(dir, 'log'), '-w', 'start'])
  t.teardown(() => asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop']))
  return port
}

t.test(
  'a new image derives other passwords from KEKPASS: the leader gets them at the first start',
  async (t) => {
    const pg = startPostgres(t)
    // What the image before scrypt derived (HKDF-SHA256 straight from KEKPASS), as its clusters still have.
    const kekpass = 'kek-of-an-older-image'
    const hkdf = (purpose: string) =>
      Buffer.from(hkdfSync('sha256', kekpass, 'patroni-postgresql/rot', purpose, 24)).toString('base64url')
    const old = { replicator: hkdf('replication'), rewinder: hkdf('rewind'), monitor: hkdf('monitor') }
    pg.sql(
      [
        "SET password_encryption = 'scram-sha-256';",
        `ALTER ROLE postgres PASSWORD ${sql(kekpass)};`,
        `CREATE ROLE replicator LOGIN REPLICATION PASSWORD ${sql(old.replicator)};`,
        `CREATE ROLE rewinder LOGIN PASSWORD ${sql(old.rewinder)};`,
        "CREATE ROLE admin LOGIN CREATEDB PASSWORD 'admin-of-an-older-image';",
        `CREATE ROLE monitor LOGIN PASSWORD ${sql(old.monitor)} IN ROLE pg_monitor;`,
        '',
      ].join('\n'),
    )
    const kv = new Map<string, string>([
      ['/service/rot/leader', 'pg1'],
      ['/service/rot/members/pg1', JSON.stringify({ conn_url: `postgres://${pg.host}:${pg.port}/postgres` })],
    ])
    const consulHttp = await consulKv(t, kv)
    const p = validate(
      { ...basicEnv(), NODENAME: 'pg2', SCOPE: 'rot', KEKPASS: kekpass, ADMPASS: 'admin-of-an-older-image' },
      { allowLoopback: true },
    )
    t.not(p.REPPASS, old.replicator, 'REPPASS is no longer what the older image derived')
    const r = await rotateRoles(p, {
      log: new StepLog({ out: () => undefined }),
      consulHttp,
      layout: debianLayout(''),
      previous: [],
      timeoutMs: 3000,
      intervalMs: 50,
    })
    t.match(r, {
      kind: 'checked',
      rotated: ['replicator (REPPASS)', 'rewinder (REWINDPASS)', 'monitor (MONPASS)'],
    })
    for (const [role, pw] of [
      ['replicator', p.REPPASS],
      ['rewinder', p.REWINDPASS],
      ['monitor', p.MONPASS],
    ] as const) {
      t.equal(pg.login(role, pw, 'SELECT 1', 'postgres').status, 0, `${role} logs in with the new derivation`)
      t.not(pg.login(role, old[role], 'SELECT 1', 'postgres').status, 0, `${role}: the old one is refused`)
    }
  },
)

t.test('renderedSuperuserPassword reads what patroni.yml gives Patroni', async (t) => {
  const dir = tempDir(t, 'cook-rotate-')
  const yml = join(dir, 'patroni.yml')
  t.equal(renderedSuperuserPassword(yml), undefined, 'no file yet')
  writeFileSync(
    yml,
    'postgresql:\n  authentication:\n    superuser:\n      username: "postgres"\n      password: "a:b\\\\c"\n',
  )
  t.equal(renderedSuperuserPassword(yml), 'a:b\\c')
  writeFileSync(yml, ': not yaml [')
  t.equal(renderedSuperuserPassword(yml), undefined, 'unreadable YAML: nothing')
})
