// Patroni supervised as the jail runs it (daemon(8) -R): a Patroni that dies (crash, OOM kill) is back in
// seconds and manages the PostgreSQL it left behind, so the cluster never has two primaries. Without the
// supervisor the orphaned postmaster keeps answering as a primary after a replica is promoted.
import t from 'tap'
import { patroniLive } from '../../cook/probes.js'
import { sleep } from '../../scripts/lib/procs.js'
import { FAST, since, startCluster } from './setup.js'

t.test('a killed Patroni is restarted and the cluster never has two primaries', async (t) => {
  const c = await startCluster(t, { scope: 'e2e-supervise', block: '127.48' })
  const { leader } = await c.waitFormed()
  const t0 = Date.now()
  const killed = c.crashPatroni(leader)
  // Every member's own PostgreSQL, sampled for more than twice the ttl: after the ttl a replica would be
  // promoted if the leader key were not renewed, and the orphan would still say it is a primary.
  const until = Date.now() + 2.5 * Number(FAST.TTL) * 1000
  let most = 0
  let samples = 0
  let back: string | undefined
  while (Date.now() < until) {
    if (back === undefined && leader.proc?.pid !== killed) {
      // The cook's own probe, with the cluster's CA: a bare fetch() cannot verify the member's certificate.
      if (await patroniLive(leader.restUrl, c.tls?.client).catch(() => undefined)) back = since(t0)
    }
    let primaries = 0
    for (const m of c.members) {
      const rows = await c.query(c.memberConn(m), 'SELECT pg_is_in_recovery()').catch(() => [])
      if (rows[0]?.[0] === 'f') primaries++
    }
    most = Math.max(most, primaries)
    samples++
    await sleep(250)
  }
  t.equal(most, 1, `at most one primary in ${samples} samples over ${since(t0)}`)
  t.ok((leader.proc?.restarts ?? 0) >= 1, 'the supervisor started Patroni again')
  t.comment(`Patroni's REST API answered again ${back ?? '(never)'} after the kill`)
  t.not(leader.proc?.pid, killed, `Patroni ${killed} was killed; ${leader.proc?.pid} runs now`)
  const formed = await c.waitFormed()
  t.equal(formed.replicas.length, 2, `one leader (${formed.leader.name}) and two streaming replicas`)
})
