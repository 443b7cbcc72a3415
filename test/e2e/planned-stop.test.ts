// Planned stop: SIGTERM to the leader's Patroni, as the cook's stop hook sends it. Patroni shuts PostgreSQL
// down and deletes the leader key itself, so a replica takes over without waiting for the key to expire.
import t from 'tap'
import { leaseTtl } from '../../scripts/lib/etcd.js'
import { sleep } from '../../scripts/lib/procs.js'
import { since, startCluster } from './setup.js'

t.test('planned stop: SIGTERM to the leader releases the leader key, a replica takes over', async (t) => {
  const c = await startCluster(t, { scope: 'e2e-planned', block: '127.44' })
  const { leader: old } = await c.waitFormed()
  await c.waitPrimaryRoute(old)
  await c.query(c.primaryConn(), "CREATE TABLE events (note text); INSERT INTO events VALUES ('before')")
  const key = await c.leaderKey()
  t.equal(key?.value, old.name, 'the leader key names the leader')
  const etcd = c.etcd
  if (!key || !etcd) throw new Error('no leader key')

  const t0 = Date.now()
  const stopped = c.stop(old)
  // The moment the key changes hands (deleted, or already taken by a replica), the old lease must still
  // be alive: the key was released by Patroni, it did not run out.
  let ttlAtRelease: number | undefined
  while (ttlAtRelease === undefined) {
    const now = await c.leaderKey()
    if (now?.value !== old.name) ttlAtRelease = await leaseTtl(etcd, key.lease)
    else await sleep(20)
    if (Date.now() - t0 > 60000) throw new Error('the leader key was never released')
  }
  t.comment(`leader key released ${since(t0)} after SIGTERM, with ${ttlAtRelease} s left on its lease`)
  t.ok(ttlAtRelease > 0, 'the leader key went away while its lease was alive: released, not expired')

  const next = await c.waitNewLeader(old)
  t.comment(`SIGTERM to ${old.name} -> ${next.name} accepts writes after ${since(t0)}`)
  await stopped
  t.comment(`${old.name}'s Patroni exited ${since(t0)} after SIGTERM`)
  t.equal(c.postmasterPid(old), undefined, "Patroni stopped the old leader's PostgreSQL")
  await c.waitPrimaryRoute(next)
  await c.query(c.primaryConn(), "INSERT INTO events VALUES ('after')")
  const rows = await c.query(c.memberConn(next), 'SELECT note FROM events ORDER BY note')
  t.same(rows, [['after'], ['before']], 'the new leader has the data and takes writes through :5000')

  const t1 = Date.now()
  c.startMember(old)
  const { leader, replicas } = await c.waitFormed()
  t.comment(`${old.name} rejoined as a streaming replica ${since(t1)} after its restart`)
  t.equal(leader.name, next.name)
  t.ok(
    replicas.some((r) => r.name === old.name),
    'the stopped leader rejoins as a streaming replica',
  )
})
