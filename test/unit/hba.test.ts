// pg_hba.conf as PostgreSQL 15 reads it: the lines cook renders, loaded by a throwaway server with TLS, and
// asked from three sources (a member, an application host, a host outside every network) and the socket
// which role may connect for what. The answer is the server's own: a request for a password, a reject line,
// or no line at all (scripts/lib/hba-probe.ts sends the startup packet; no password is ever sent).
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { validate } from '../../cook/params.js'
import { PATHS } from '../../cook/layout.js'
import { pgHba, plan } from '../../cook/plan.js'
import { issue, makeCa } from '../../scripts/lib/certs.js'
import { hbaVerdict, type HbaProbe, type HbaVerdict } from '../../scripts/lib/hba-probe.js'
import { basicEnv, tempDir } from '../helpers.js'
import { startPostgres } from '../pg.js'

const net = `127.83.${1 + (process.pid % 250)}`
const MEMBER = `${net}.20`
const APP = `${net}.30`
const OUTSIDER = `${net}.200`

const params = validate(
  { ...basicEnv(), MEMBERNETS: `${MEMBER}/32`, ALLOWNETS: `${net}.0/25` },
  { allowLoopback: true },
)

t.test('patroni.yml carries exactly these lines, in bootstrap and for every start', async (t) => {
  const file = plan(params).files.find((f) => f.path === PATHS.patroniYml)
  const yml = parse(file?.content ?? '') as {
    bootstrap: { pg_hba: string[] }
    postgresql: { pg_hba: string[] }
  }
  t.same(yml.postgresql.pg_hba, pgHba(params, false), 'TLS=off: host lines')
  t.same(yml.bootstrap.pg_hba, pgHba(params, false))
  t.ok(
    pgHba(params, true).every((l) => !/^host /.test(l) || / reject$/.test(l)),
    'with TLS only the reject lines are host (TLS or not)',
  )
})

t.test('who may connect from where as whom: PostgreSQL 15 decides', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(join(dir, 'ca'))
  const cert = issue(ca, 'pg1', { ips: [`${net}.10`] })
  const pg = startPostgres(t, { host: `${net}.10`, hba: pgHba(params, true), ssl: cert })
  const ask = (o: Omit<HbaProbe, 'host' | 'port'>) =>
    hbaVerdict({ host: pg.host, port: pg.port, tls: true, ...o })
  const cases: [string, Omit<HbaProbe, 'host' | 'port'>, HbaVerdict][] = [
    // A member: Patroni's and cook's superuser, pg_rewind, streaming; never monitor over TCP.
    ['member: postgres', { localAddress: MEMBER, user: 'postgres' }, 'password'],
    ['member: rewinder', { localAddress: MEMBER, user: 'rewinder' }, 'password'],
    [
      'member: replicator streams',
      { localAddress: MEMBER, user: 'replicator', replication: true },
      'password',
    ],
    ['member: replicator, not as a client', { localAddress: MEMBER, user: 'replicator' }, 'reject'],
    ['member: monitor', { localAddress: MEMBER, user: 'monitor' }, 'reject'],
    ['member: admin (MEMBERNETS inside ALLOWNETS)', { localAddress: MEMBER, user: 'admin' }, 'password'],
    ['member: postgres without TLS', { localAddress: MEMBER, user: 'postgres', tls: false }, 'reject'],
    // An application host in ALLOWNETS: admin and its roles, nothing reserved.
    ['app: admin', { localAddress: APP, user: 'admin' }, 'password'],
    ['app: a role admin created', { localAddress: APP, user: 'shop', database: 'shop' }, 'password'],
    ['app: postgres', { localAddress: APP, user: 'postgres' }, 'reject'],
    [
      'app: postgres, database template1',
      { localAddress: APP, user: 'postgres', database: 'template1' },
      'reject',
    ],
    ['app: rewinder', { localAddress: APP, user: 'rewinder' }, 'reject'],
    ['app: monitor', { localAddress: APP, user: 'monitor' }, 'reject'],
    ['app: replicator streams', { localAddress: APP, user: 'replicator', replication: true }, 'reject'],
    ['app: admin streams', { localAddress: APP, user: 'admin', replication: true }, 'reject'],
    ['app: admin without TLS', { localAddress: APP, user: 'admin', tls: false }, 'none'],
    // Outside ALLOWNETS and MEMBERNETS.
    ['outsider: admin', { localAddress: OUTSIDER, user: 'admin' }, 'none'],
    ['outsider: postgres', { localAddress: OUTSIDER, user: 'postgres' }, 'reject'],
  ]
  for (const [what, probe, want] of cases) {
    const got = await ask(probe)
    t.equal(got, want, `${what}: ${got}`)
  }
  // This member's own clients: the socket (postgres_exporter as monitor, Patroni's replication checks).
  const local = (o: Omit<HbaProbe, 'host' | 'port'>) =>
    hbaVerdict({ host: pg.socketDir, port: pg.port, ...o })
  t.equal(await local({ user: 'monitor' }), 'password', 'socket: monitor (postgres_exporter)')
  t.equal(await local({ user: 'postgres' }), 'password', 'socket: postgres (Patroni, cook, pgBackRest)')
  t.equal(
    await local({ user: 'replicator', replication: true }),
    'password',
    "socket: Patroni's replication checks",
  )
})
