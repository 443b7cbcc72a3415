// A three-member cluster forms from cook-rendered files: one primary, two streaming replicas, HAProxy
// routing writes to :5000 and reads to :5001, and the admin role that post_bootstrap creates.
import t from 'tap'
import { sleep } from '../../scripts/lib/procs.js'
import { since, startCluster } from './setup.js'

t.test(
  'formation: one primary, two streaming replicas, :5000 writes, :5001 reads, admin logs in',
  async (t) => {
    const t0 = Date.now()
    const c = await startCluster(t, { scope: 'e2e-formation', block: '127.42' })
    const { leader, replicas } = await c.waitFormed()
    t.comment(`formed (leader + 2 streaming replicas) in ${since(t0)}`)
    t.equal(replicas.length, 2)
    t.same((await c.streamingTo(leader)).sort(), replicas.map((r) => r.name).sort())
    for (const r of replicas) {
      const [row] = await c.query(
        c.memberConn(r),
        'SELECT pg_is_in_recovery(), status FROM pg_stat_wal_receiver',
      )
      t.same(row, ['t', 'streaming'], `${r.name} is a standby whose WAL receiver streams`)
    }

    await c.waitPrimaryRoute(leader)
    const token = `formation-${process.pid}-${Date.now()}`
    await c.query(c.primaryConn(), `CREATE TABLE probe (token text); INSERT INTO probe VALUES ('${token}')`)
    await c.waitReplicaRoute()
    const [viaReplica] = await c.query(
      c.replicaConn(),
      'SELECT pg_is_in_recovery(), host(inet_server_addr())',
    )
    t.equal(viaReplica?.[0], 't', ':5001 reaches a standby')
    t.ok(
      replicas.some((r) => r.ip === viaReplica?.[1]),
      ':5001 reaches one of the replicas',
    )
    // Replication is asynchronous: the table and the row arrive on the replica shortly after the commit
    // (until then the query fails with "relation does not exist" or finds no row).
    let seen = ''
    let last = ''
    for (let i = 0; i < 100 && seen !== token; i++) {
      try {
        seen = (await c.query(c.replicaConn(), 'SELECT token FROM probe'))[0]?.[0] ?? ''
      } catch (e) {
        last = (e as Error).message
      }
      if (seen !== token) await sleep(100)
    }
    if (seen !== token) t.comment(`last error on :5001: ${last}`)
    t.equal(seen, token, 'the row written through :5000 is read through :5001')

    const [role] = await c.query(
      c.primaryConn('admin'),
      'SELECT current_user, rolcreaterole, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = current_user',
    )
    // PostgreSQL 15 (the test bed): no CREATEROLE, which would let admin become the OS user (admin-role.sql).
    t.same(
      role,
      ['admin', 'f', 't', 'f'],
      'admin logs in with ADMPASS through :5000, CREATEDB, no CREATEROLE',
    )
    const grant = await c.query(c.primaryConn('admin'), 'GRANT pg_execute_server_program TO admin').then(
      () => 'granted',
      (e: unknown) => String(e),
    )
    t.match(
      grant,
      /must have admin option on role "pg_execute_server_program"/,
      'admin cannot become the OS user',
    )
    await c.query(c.primaryConn('admin'), 'CREATE DATABASE app')
    const [db] = await c.query(
      c.primaryConn('admin'),
      "SELECT datname FROM pg_database WHERE datname = 'app'",
    )
    t.same(db, ['app'], 'admin can create a database')
  },
)
