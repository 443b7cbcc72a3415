// Jail stop: what `jail -r` does to the leader's jail. Each member reaches etcd only through its own
// `etcd gateway` (ETCDPROXY), which stands for the in-jail Consul agent and dies with the jail's other
// processes. With the stop hook (the real `cook stop`, FreeBSD's service(8) replaced by a stand-in that
// signals the member's Patroni), Patroni hands over before the mass SIGTERM; without it, the leader key
// cannot be deleted and a replica takes over only when the key's lease runs out.
import t from 'tap'
import type { Cluster, Member } from '../../scripts/lib/cluster.js'
import { type Etcd, leaseTtl } from '../../scripts/lib/etcd.js'
import { jailStop } from '../../scripts/lib/jail-stop.js'
import { sleep } from '../../scripts/lib/procs.js'
import { since, startCluster } from './setup.js'

/** The lease's seconds left at the moment the leader key leaves `old`: > 0 released, -1 expired. */
async function ttlWhenKeyLeaves(c: Cluster, etcd: Etcd, old: Member, lease: string): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    const now = await c.leaderKey()
    if (now?.value !== old.name) return leaseTtl(etcd, lease)
    if (Date.now() - t0 > 90000) throw new Error('the leader key never left the old leader')
    await sleep(20)
  }
}

t.test('jail stop of the leader: with `cook stop` a handover, without it a wait for the ttl', async (t) => {
  const c = await startCluster(t, { scope: 'e2e-jailstop', block: '127.47', agent: 'gateway' })
  const { leader: first } = await c.waitFormed()
  const etcd = c.etcd
  if (!etcd) throw new Error('etcd is not running')
  t.ok(c.memberPids(first).includes(first.gateway?.pid ?? -1), "the member's gateway is one of its processes")
  await c.query(c.primaryConn(), "CREATE TABLE events (note text); INSERT INTO events VALUES ('before')")

  // (a) exec.stop = cook stop, then SIGTERM to all that is left, SIGKILL after stop.timeout 30 s.
  const key = await c.leaderKey()
  if (!key) throw new Error('no leader key')
  t.equal(key.value, first.name, 'the leader key names the leader')
  const hookLog: string[] = []
  const t0 = Date.now()
  const stopping = jailStop(c, first, { hook: true, stopTimeoutS: 30, out: (l) => hookLog.push(l) })
  const ttlA = await ttlWhenKeyLeaves(c, etcd, first, key.lease)
  t.comment(
    `with the hook: leader key released ${since(t0)} after exec.stop began, ${ttlA} s left on its lease`,
  )
  t.ok(ttlA > 0, 'the leader key went away while its lease was alive: released, not expired')
  const second = await c.waitNewLeader(first)
  t.comment(`with the hook: ${second.name} accepts writes ${since(t0)} after the jail stop began`)
  const a = await stopping
  t.comment(`with the hook: the whole jail stop took ${since(t0)}`)
  t.match(
    a.report,
    { patroni: 'stopped', node_exporter: 'not running', consul: 'skipped' },
    `cook stop's report (log: ${hookLog.join(' | ')})`,
  )
  t.same(a.killed, [], 'nothing was left for SIGKILL')
  t.equal(c.postmasterPid(first), undefined, "Patroni stopped the old leader's PostgreSQL")
  await c.waitPrimaryRoute(second)
  await c.query(c.primaryConn(), "INSERT INTO events VALUES ('after a')")

  // The cluster re-forms: the stopped jail starts again and rejoins as a replica.
  c.startMember(first)
  const formed = await c.waitFormed()
  t.equal(formed.leader.name, second.name, 'the new leader keeps its role when the old one returns')
  t.ok(
    formed.replicas.some((r) => r.name === first.name),
    'the stopped leader rejoined as a replica',
  )

  // (b) no exec.stop (an older pot): SIGTERM to Patroni, PostgreSQL and the gateway at once,
  // SIGKILL after the default stop.timeout of 10 s.
  const key2 = await c.leaderKey()
  if (!key2) throw new Error('no leader key')
  t.equal(key2.value, second.name, 'the leader key names the new leader')
  const t1 = Date.now()
  const stopping2 = jailStop(c, second, { hook: false, stopTimeoutS: 10 })
  const ttlB = await ttlWhenKeyLeaves(c, etcd, second, key2.lease)
  t.comment(
    `without the hook: the leader key left ${second.name} ${since(t1)} after SIGTERM (lease: ${ttlB})`,
  )
  t.equal(ttlB, -1, 'the leader key outlived its holder until its lease expired: nobody could delete it')
  const third = await c.waitNewLeader(second)
  t.comment(`without the hook: ${third.name} accepts writes ${since(t1)} after the jail stop began`)
  const b = await stopping2
  t.equal(b.report, undefined, 'no hook ran')
  t.ok(b.terminated.includes(second.gateway?.pid ?? -1), 'the gateway got the same SIGTERM')
  t.comment(`without the hook: processes left for SIGKILL after 10 s: ${b.killed.length}`)
  await c.waitPrimaryRoute(third)
  await c.query(c.primaryConn(), "INSERT INTO events VALUES ('after b')")
  const rows = await c.query(c.memberConn(third), 'SELECT note FROM events ORDER BY note')
  t.same(rows, [['after a'], ['after b'], ['before']], 'no write was lost across both jail stops')
})
