// Rotating passwords on a running cluster, member by member, as the README's "Rotating passwords" tells an
// operator to: the cook's own rotation step (cook/rotate.ts, via Cluster.reseason) changes the leader's roles
// before a member's Patroni takes the new values. Replication keeps streaming after every step, the old
// passwords stop working, and a later failover still rejoins the old leader through pg_rewind.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { StepLog } from '../../cook/log.js'
import type { RotateResult } from '../../cook/rotate.js'
import type { Cluster, Member } from '../../scripts/lib/cluster.js'
import { query, writePgpass } from '../../scripts/lib/pg.js'
import { since, startCluster } from './setup.js'

/** Walsender PID per streaming replica, on the leader: an unchanged PID is a stream that never broke. */
async function streams(c: Cluster, leader: Member): Promise<Map<string, string>> {
  const rows = await c.query(
    c.memberConn(leader),
    "SELECT application_name, pid FROM pg_stat_replication WHERE state = 'streaming'",
  )
  return new Map(rows.map((r) => [r[0] ?? '', r[1] ?? '']))
}

/** A row written on the leader reaches every replica. */
async function replicates(c: Cluster, note: string): Promise<void> {
  const { leader, replicas } = await c.waitFormed()
  await c.query(c.memberConn(leader), `INSERT INTO events (note) VALUES ('${note}')`)
  for (const r of replicas)
    for (let i = 0; ; i++) {
      const rows = await c.query(c.memberConn(r), `SELECT count(*) FROM events WHERE note = '${note}'`)
      if (rows[0]?.[0] === '1') break
      if (i > 100) throw new Error(`${r.name} did not replay "${note}"`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
}

/**
 * Logs in over TCP as `user` with exactly `password` (a pgpass file of its own): true when accepted. pg_hba
 * admits replicator from the members only for physical replication, so its login is a replication connection.
 */
async function accepts(c: Cluster, m: Member, user: string, password: string): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'rotation-login-'))
  const replication = user === 'replicator'
  try {
    writePgpass(join(dir, 'pgpass'), { [user]: password })
    const conn = c.memberConn(m, user)
    await query(
      replication ? { ...conn, dbname: 'dbname=postgres replication=true' } : conn,
      replication ? 'IDENTIFY_SYSTEM' : 'SELECT 1',
      { pgpass: join(dir, 'pgpass') },
    )
    return true
  } catch (e) {
    if (/password authentication failed/.test((e as Error).message)) return false
    throw e
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

t.test('rotating KEKPASS, then REPPASS, member by member: replication never stops', async (t) => {
  const c = await startCluster(t, { scope: 'e2e-rotation', block: '127.53' })
  const lines: string[] = []
  const log = new StepLog({ out: (l) => lines.push(l) })
  const { leader, replicas } = await c.waitFormed()
  await c.query(c.memberConn(leader), 'CREATE TABLE events (id serial PRIMARY KEY, note text)')
  const first = { ...c.passwords }
  const kekpass = 'rotated-Kek:pass\\with $pecials'
  const reppass = 'explicit rep:pass \\ 2'

  await t.test('KEKPASS, live: the leader first, through its local socket; then each replica', async (t) => {
    const before = await streams(c, leader)
    t.equal(before.size, 2, 'both replicas stream before the rotation')
    const t0 = Date.now()
    const r = await c.reseason(leader, { KEKPASS: kekpass }, 'reload', log)
    t.match(r, { kind: 'checked', leader: leader.name, local: true })
    t.same(
      (r as Extract<RotateResult, { kind: 'checked' }>).rotated,
      ['postgres (KEKPASS)', 'replicator (REPPASS)', 'rewinder (REWINDPASS)', 'monitor (MONPASS)'],
      'the superuser and the three derived passwords changed on the leader; admin kept its own',
    )
    t.comment(`leader ${leader.name} rotated and reloaded in ${since(t0)}`)
    // Two HA loops: Patroni has taken the reload on the leader by then.
    await new Promise((resolve) => setTimeout(resolve, 5000))
    t.same(
      await streams(c, leader),
      before,
      'the replicas with the old values stream on, the same walsenders',
    )
    await replicates(c, 'after the leader')
    for (const m of replicas) {
      const others = await streams(c, leader)
      const r2 = await c.reseason(m, { KEKPASS: kekpass }, 'reload', log)
      t.match(r2, { kind: 'checked', rotated: [] }, `${m.name}: the leader had its passwords already`)
      await replicates(c, `after ${m.name}`)
      const now = await streams(c, leader)
      for (const o of replicas.filter((x) => x !== m))
        t.equal(now.get(o.name), others.get(o.name), `${o.name} kept streaming while ${m.name} reseasoned`)
    }
    t.equal(
      await accepts(c, leader, 'postgres', first.postgres),
      false,
      'the old superuser password is refused',
    )
    t.equal(await accepts(c, leader, 'postgres', kekpass), true, 'the new one is accepted')
    t.equal(
      await accepts(c, leader, 'replicator', first.replicator),
      false,
      'the old derived replication password is refused',
    )
  })

  await t.test('REPPASS, by restarting each jail: the replicas first, the leader last', async (t) => {
    const { leader: lead, replicas: reps } = await c.waitFormed()
    const oldRep = c.passwords.replicator
    for (const [i, m] of reps.entries()) {
      const t0 = Date.now()
      const r = await c.reseason(m, { REPPASS: reppass }, 'restart', log)
      t.match(
        r,
        {
          kind: 'checked',
          leader: lead.name,
          local: false,
          rotated: i === 0 ? ['replicator (REPPASS)'] : [],
        },
        i === 0
          ? `${m.name}, a replica, changed the role on the leader ${lead.name} over the network`
          : `${m.name}: already done`,
      )
      const { replicas: now } = await c.waitFormed()
      t.equal(now.length, 2, `both replicas stream after ${m.name} restarted (${since(t0)})`)
      await replicates(c, `after restarting ${m.name}`)
    }
    const t0 = Date.now()
    const r = await c.reseason(lead, { REPPASS: reppass }, 'restart', log)
    t.match(r, { kind: 'checked', rotated: [] }, 'the old leader found every role done on the new leader')
    t.not((r as Extract<RotateResult, { kind: 'checked' }>).leader, lead.name, 'its stop handed over')
    const formed = await c.waitFormed()
    t.equal(formed.replicas.length, 2, `both replicas stream after the leader's restart (${since(t0)})`)
    await replicates(c, 'after restarting the leader')
    t.equal(await accepts(c, formed.leader, 'replicator', oldRep), false, 'the old REPPASS is refused')
    t.equal(await accepts(c, formed.leader, 'replicator', reppass), true, 'the new REPPASS is accepted')
  })

  await t.test('a later failover rejoins the old leader through pg_rewind', async (t) => {
    const { leader: old } = await c.waitFormed()
    const mark = c.patroniLog(old).length
    const t0 = Date.now()
    await c.kill(old)
    const next = await c.waitNewLeader(old)
    await c.query(c.memberConn(next), "INSERT INTO events (note) VALUES ('after failover')")
    c.startMember(old)
    const { replicas: now } = await c.waitFormed()
    t.ok(
      now.some((r) => r.name === old.name),
      `${old.name} rejoined as a streaming replica (${since(t0)})`,
    )
    const after = c.patroniLog(old).slice(mark)
    t.match(after, /running pg_rewind from/, 'Patroni rewound the old leader')
    t.match(after, /pg_rewind exit code=0/, 'pg_rewind logged in with the rotated REWINDPASS')
  })

  const text = lines.join('\n')
  const secrets = [kekpass, reppass, first.postgres, first.replicator, first.rewinder, c.passwords.rewinder]
  t.notOk(
    secrets.some((s) => text.includes(s)) || /SCRAM-SHA-256\$/.test(text),
    'the rotation log names roles, never a password or a verifier',
  )
  t.match(text, /rotated on the leader \S+ \(this member, through the local socket\): postgres \(KEKPASS\)/)
  t.comment(lines.filter((l) => /rotated|already has/.test(l)).join('\n'))
})
