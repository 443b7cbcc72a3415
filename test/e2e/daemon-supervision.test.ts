// Patroni under the jail's own rc.d script and daemon(8), with its real PostgreSQL: the leader pg1 runs in
// a FreeBSD-shaped view of this machine (test/jailview.ts), started by `service patroni start` through
// the rendered rc.d/patroni and the daemon(8) stand-in, which copies daemon.c of stable/14 (the child's
// output is a pipe the supervisor reads to EOF before it restarts anything). The replica pg2 runs as the
// dev cluster runs it. kill -9 of pg1's Patroni while its PostgreSQL serves: Patroni must be back within
// the restart delay + 5 s, there is never more than one primary, and `service patroni stop` returns
// within patroni_stop_timeout. With an rc.d script whose Patroni hands its descriptors to PostgreSQL, the
// supervisor waits for an EOF that never comes: no restart, a second primary after the ttl, a stop that
// times out.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PATHS } from '../../cook/layout.js'
import { clusterExists, patroniLive } from '../../cook/probes.js'
import { Cluster, FAST } from '../../scripts/lib/cluster.js'
import { missingDeps } from '../../scripts/lib/deps.js'
import { freeBlock } from '../../scripts/lib/netblock.js'
import { isAlive, sleep } from '../../scripts/lib/procs.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { canMakeJailView, jailView, type JailView } from '../jailview.js'
import { since } from './setup.js'

/** patroni_restart_delay's default in rc.d/patroni (daemon -R). */
const RESTART_DELAY_S = 2
const STOP_TIMEOUT_S = 20

t.test('a killed Patroni under rc.d and daemon(8) is back while its PostgreSQL runs', async (t) => {
  if (!canMakeJailView()) throw new Error('this test needs root on Linux (a mount namespace with overlays)')
  const missing = missingDeps()
  if (missing.length > 0) throw new Error(`the end-to-end tests cannot run here:\n${missing.join('\n')}`)
  const dir = mkdtempSync(join(tmpdir(), 'e2e-daemon-'))
  const net = await freeBlock('127.86', 2)
  const c = new Cluster({
    scope: 'e2e-daemon',
    dir,
    net,
    size: 2,
    backups: false,
    params: { ...FAST, STOPTIMEOUT: String(STOP_TIMEOUT_S) },
  })
  t.teardown(async () => {
    await c.destroy()
    if (t.passing() && !process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true })
    else t.comment(`cluster folder kept for inspection: ${dir}`)
  })
  const [pg1, pg2] = c.members
  if (!pg1 || !pg2) throw new Error('two members expected')
  await c.startEtcd()

  // pg1's jail: its rendered rc.d script, the real Patroni at the package's path, rc.conf as cook sets it.
  const view: JailView = await jailView(join(dir, 'view'))
  t.teardown(() => view.stop({ graceMs: 2000 }))
  view.put(PATHS.rcPatroni, readFileSync(join(pg1.root, PATHS.rcPatroni)), 0o755)
  view.put('/usr/local/bin/patroni', '#!/bin/sh\nexec /usr/bin/patroni "$@"\n', 0o755)
  // The rendered script names the supervisor's pid file under the member's root, whose var/run the dev
  // cluster does not make (a jail has /var/run).
  mkdirSync(join(pg1.root, 'var/run'), { recursive: true })
  view.put('/etc/rc.conf', `patroni_enable="YES"\npatroni_config="${pg1.config}"\n`)
  const started = await view.run('service patroni start', { timeoutMs: 30_000 })
  t.equal(started.code, 0, `service patroni start: ${started.stdout}${started.stderr}`)
  pg1.up = true
  await waitFor('pg1 to claim the cluster', () => clusterExists(pg1.params, ''), { timeout: 60_000 })
  c.startMember(pg2)
  const formed = await c.waitFormed()
  t.equal(formed.leader.name, 'pg1', 'pg1 (under rc.d and daemon) leads, pg2 streams')

  // A live pid from a pid file: Patroni's (/var/run/patroni.pid in the jail) or daemon(8)'s (rebased
  // under the member's root, as the rendered rc.d script names it).
  const pidIn = (read: () => string) => () => {
    try {
      const pid = Number(read().trim())
      return pid > 0 && isAlive(pid) ? pid : undefined
    } catch {
      return undefined
    }
  }
  const supervisor = pidIn(() => readFileSync(join(pg1.root, PATHS.patroniSupervisorPid), 'utf8'))
  const patroni = pidIn(() => view.read('/var/run/patroni.pid'))
  const sup = supervisor()
  const first = patroni()
  if (sup === undefined || first === undefined) throw new Error('no supervisor or Patroni pid')
  const postmaster = c.postmasterPid(pg1)
  t.ok(postmaster !== undefined && isAlive(postmaster), "pg1's PostgreSQL runs")

  // kill -9 Patroni alone; sample both members' PostgreSQL for 2.5 x ttl (a replica is promoted after the
  // ttl when nobody renews the leader key, and the orphan would still answer as a primary).
  const t0 = Date.now()
  process.kill(first, 'SIGKILL')
  const until = Date.now() + 2.5 * Number(FAST.TTL) * 1000
  let most = 0
  let samples = 0
  let restartedMs: number | undefined
  let backMs: number | undefined
  while (Date.now() < until) {
    const now = patroni()
    if (restartedMs === undefined && now !== undefined && now !== first) restartedMs = Date.now() - t0
    if (restartedMs !== undefined && backMs === undefined) {
      if (await patroniLive(pg1.restUrl, c.tls?.client).catch(() => undefined)) backMs = Date.now() - t0
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
  const secs = (ms: number | undefined) => (ms === undefined ? '(never)' : `${(ms / 1000).toFixed(1)} s`)
  t.comment(
    `after kill -9: daemon(8) started Patroni again ${secs(restartedMs)} later, its REST API answered ` +
      `${secs(backMs)} later (restart delay ${RESTART_DELAY_S} s)`,
  )
  t.ok(
    restartedMs !== undefined && restartedMs <= (RESTART_DELAY_S + 5) * 1000,
    'Patroni is started again within the restart delay + 5 s',
  )
  t.ok(
    backMs !== undefined && backMs <= Number(FAST.TTL) * 1000,
    "and answers before the leader key's ttl runs out",
  )
  t.equal(most, 1, `at most one primary in ${samples} samples over ${since(t0)}`)
  t.equal(supervisor(), sup, 'the same daemon(8) supervisor')

  // service patroni stop: PostgreSQL shuts down, the leader key is released, both pids are gone.
  const now = patroni()
  const t1 = Date.now()
  const stop = await view.run('service patroni stop', { timeoutMs: (STOP_TIMEOUT_S + 15) * 1000 })
  const stopS = (Date.now() - t1) / 1000
  t.comment(
    `service patroni stop returned after ${stopS.toFixed(1)} s (patroni_stop_timeout ${STOP_TIMEOUT_S} s)`,
  )
  t.equal(stop.code, 0, `service patroni stop: ${stop.stdout}${stop.stderr}`)
  t.ok(stopS < STOP_TIMEOUT_S, 'within patroni_stop_timeout')
  t.notOk(isAlive(sup) || (now !== undefined && isAlive(now)), 'the supervisor and Patroni are gone')
  t.equal(c.postmasterPid(pg1), undefined, "Patroni stopped pg1's PostgreSQL")
  pg1.up = false
})
