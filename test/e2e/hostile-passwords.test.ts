// Passwords with every character that broke the shell-built configs of the past (quote, double quote, colon,
// hash, backslash, a leading @, Handlebars' {{ }}): the superuser, replication and rewind users still
// authenticate, through Patroni's pgpass, primary_conninfo and pg_rewind; admin logs in through :5000.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { since, startCluster } from './setup.js'

const HOSTILE = {
  KEKPASS: `@k'e"k:#\\{{x}} $HOME`,
  REPPASS: `@r:e#p\\'"{{ y }}`,
  REWINDPASS: `@w\\\\i:n#d'{{z}}"`,
  ADMPASS: `@a'd:m#\\{{ q }}" \\:`,
}

t.test('hostile passwords: replication, pg_rewind, superuser and admin all authenticate', async (t) => {
  const c = await startCluster(t, { scope: 'e2e-hostile', block: '127.46', params: HOSTILE })
  t.same(
    c.passwords,
    {
      postgres: HOSTILE.KEKPASS,
      admin: HOSTILE.ADMPASS,
      replicator: HOSTILE.REPPASS,
      rewinder: HOSTILE.REWINDPASS,
    },
    'the cluster uses the hostile passwords',
  )
  const { leader: old, replicas } = await c.waitFormed()
  t.equal(replicas.length, 2, 'both replicas cloned and stream: the replicator authenticated with REPPASS')
  for (const [user, want] of [
    ['postgres', 't'],
    ['rewinder', 'f'],
  ] as const) {
    const [row] = await c.query(
      c.memberConn(old, user),
      'SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user',
    )
    t.same(row, [user, want], `${user} logs in with its password`)
  }
  await c.waitPrimaryRoute(old)
  const [admin] = await c.query(
    c.primaryConn('admin'),
    'SELECT current_user, rolcreaterole, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = current_user',
  )
  t.same(
    admin,
    ['admin', 'f', 't', 'f'],
    'admin logs in with ADMPASS through :5000 (PostgreSQL 15: no CREATEROLE)',
  )

  await c.query(c.primaryConn(), 'CREATE TABLE events (note text)')
  const argv = c.members
    .flatMap((m) => c.memberPids(m))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      } catch {
        return ''
      }
    })
    .join('\n')
  t.ok(argv.includes('patroni'), 'the command lines of every member process were read')
  for (const [name, pw] of Object.entries(HOSTILE))
    t.notOk(argv.includes(pw), `${name} is in no process's argv`)
  const t0 = Date.now()
  await c.kill(old)
  const next = await c.waitNewLeader(old)
  await c.query(c.memberConn(next), "INSERT INTO events VALUES ('after failover')")
  c.startMember(old)
  const formed = await c.waitFormed()
  t.comment(`failover and rejoin with hostile passwords took ${since(t0)}`)
  t.ok(
    formed.replicas.some((r) => r.name === old.name),
    'the old leader streams again',
  )
  const log = c.patroniLog(old)
  t.match(log, /running pg_rewind from/, 'Patroni ran pg_rewind')
  t.match(log, /pg_rewind exit code=0/, 'pg_rewind authenticated as rewinder and succeeded')
  t.same(await c.query(c.memberConn(old), 'SELECT note FROM events'), [['after failover']])

  // Secrets never in logs: neither Patroni's nor the processes' output.
  const logs = [
    ...c.members.map((m) => c.patroniLog(m)),
    ...c.members.map((m) => c.serverLog(m)),
    ...readdirSync(c.logDir).map((f) => readFileSync(join(c.logDir, f), 'utf8')),
  ].join('\n')
  for (const [name, pw] of Object.entries(HOSTILE)) t.notOk(logs.includes(pw), `${name} appears in no log`)
})
