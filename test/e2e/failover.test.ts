// Unplanned failover: the leader's Patroni and PostgreSQL die at once (SIGKILL). A replica takes over once
// the leader key expires, :5000 follows it, and the old leader rejoins as a replica through pg_rewind.
import t from 'tap'
import { leaseTtl } from '../../scripts/lib/etcd.js'
import { since, startCluster } from './setup.js'

t.test(
  'unplanned failover: SIGKILL the leader, a replica takes writes, the old leader rejoins',
  async (t) => {
    const c = await startCluster(t, { scope: 'e2e-failover', block: '127.43' })
    const { leader: old } = await c.waitFormed()
    await c.waitPrimaryRoute(old)
    await c.query(c.primaryConn(), 'CREATE TABLE events (id serial PRIMARY KEY, note text)')
    await c.query(c.primaryConn(), "INSERT INTO events (note) SELECT 'before' FROM generate_series(1, 1000)")
    const key = await c.leaderKey()
    t.equal(key?.value, old.name, 'the leader key names the leader')

    const t0 = Date.now()
    await c.kill(old)
    const next = await c.waitNewLeader(old)
    t.comment(`leader ${old.name} killed -> ${next.name} accepts writes after ${since(t0)}`)
    t.not(next.name, old.name)
    t.equal(
      await leaseTtl(c.etcd!, key!.lease),
      -1,
      'the new leader took over only after the old lease expired',
    )
    await c.query(c.memberConn(next), "INSERT INTO events (note) VALUES ('after failover')")
    await c.waitPrimaryRoute(next)
    t.comment(`:5000 routes to ${next.name} ${since(t0)} after the kill`)
    await c.query(c.primaryConn(), "INSERT INTO events (note) VALUES ('through :5000')")

    const t1 = Date.now()
    c.startMember(old)
    const { leader, replicas } = await c.waitFormed()
    t.comment(`${old.name} rejoined as a streaming replica ${since(t1)} after its restart`)
    t.equal(leader.name, next.name, 'the leader stays')
    t.ok(
      replicas.some((r) => r.name === old.name),
      'the old leader is a streaming replica',
    )
    const log = c.patroniLog(old)
    t.match(log, /running pg_rewind from/, 'Patroni rewound the old leader')
    t.match(log, /pg_rewind exit code=0/, 'pg_rewind succeeded')
    const rows = await c.query(
      c.memberConn(old),
      'SELECT pg_is_in_recovery(), count(*) FROM events GROUP BY 1',
    )
    t.same(
      rows,
      [['t', '1002']],
      'the old leader replays the new timeline, writes after the failover included',
    )
  },
)
