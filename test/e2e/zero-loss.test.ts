// Zero loss with SYNCMODE=on: a client writes through :5000 and records every acknowledged id while the
// leader is killed twice; each time the test waits for a confirmed synchronous standby before the next
// kill: killing a leader that has none yet can lose commits even in synchronous mode (not strict).
import t from 'tap'
import { sleep } from '../../scripts/lib/procs.js'
import { Writer } from '../../scripts/lib/writer.js'
import { since, startCluster } from './setup.js'

t.test('SYNCMODE=on: every acknowledged write survives two failovers', async (t) => {
  const c = await startCluster(t, { scope: 'e2e-zeroloss', block: '127.45', params: { SYNCMODE: 'on' } })
  let { leader } = await c.waitFormed()
  await c.waitSyncStandby(leader)
  await c.waitPrimaryRoute(leader)
  const writer = new Writer(c, 'acks')
  await writer.start()
  t.teardown(() => writer.stop())

  for (const round of [1, 2]) {
    await sleep(1500)
    const before = writer.acked.length
    t.ok(before > 0, `round ${round}: the writer has acknowledged writes on ${leader.name}`)
    const t0 = Date.now()
    await c.kill(leader)
    const next = await c.waitNewLeader(leader)
    await c.waitPrimaryRoute(next)
    t.comment(`round ${round}: ${leader.name} killed -> ${next.name} behind :5000 after ${since(t0)}`)
    c.startMember(leader)
    await c.waitFormed()
    const sync = await c.waitSyncStandby(next)
    t.comment(
      `round ${round}: ${leader.name} rejoined; ${sync.name} is the confirmed sync standby after ${since(t0)}`,
    )
    await sleep(500)
    t.ok(writer.acked.length > before, `round ${round}: ${next.name} acknowledges writes`)
    leader = next
  }
  await sleep(1000)
  await writer.stop()
  const { present, missing } = await writer.lost(c.memberConn(leader))
  t.comment(
    `writer: ${writer.attempts} attempts, ${writer.acked.length} acknowledged, ${present} rows on the final ` +
      `leader ${leader.name}, ${missing.length} acknowledged ids missing`,
  )
  t.same(missing, [], 'every acknowledged id is on the final leader')
  t.ok(present >= writer.acked.length, 'the table holds at least the acknowledged rows')
})
