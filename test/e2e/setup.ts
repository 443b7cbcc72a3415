// Starting a development cluster inside a test: its own folder, scope and address block, the fast timing
// profile, and teardown by PID whether the test passes, fails or is killed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RawParams } from '../../cook/params.js'
import type { Ca } from '../../scripts/lib/certs.js'
import { Cluster, FAST } from '../../scripts/lib/cluster.js'
import { missingDeps } from '../../scripts/lib/deps.js'
import { freeBlock } from '../../scripts/lib/netblock.js'

/** The one fast timing profile (scripts/lib/cluster-files.ts), for the tests that reason about its figures. */
export { FAST }

interface Tap {
  teardown: (fn: () => void | Promise<void>) => void
  passing: () => boolean
  comment: (...args: unknown[]) => void
}

const live = new Set<Cluster>()
let hooked = false

/** tap ends a test that runs over its timeout with SIGTERM: nothing may outlive the test process. */
function hookSignals(): void {
  if (hooked) return
  hooked = true
  process.once('exit', () => {
    for (const c of live) c.procs.killAllNow()
  })
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.once(sig, () => {
      for (const c of live) c.procs.killAllNow()
      process.kill(process.pid, sig)
    })
}

export async function startCluster(
  t: Tap,
  /** block: the first two octets of this test's own loopback range, e.g. '127.42'. */
  opts: {
    scope: string
    block: string
    params?: RawParams
    agent?: 'gateway'
    size?: number
    backups?: boolean
    memberParams?: RawParams[]
    ca?: Ca
    exporters?: boolean
  },
): Promise<Cluster> {
  const missing = missingDeps()
  if (missing.length > 0) throw new Error(`the end-to-end tests cannot run here:\n${missing.join('\n')}`)
  hookSignals()
  const dir = mkdtempSync(join(tmpdir(), `e2e-${opts.scope}-`))
  const net = await freeBlock(opts.block, opts.size)
  const cluster = new Cluster({
    scope: opts.scope,
    dir,
    net,
    params: { ...FAST, ...opts.params },
    ...(opts.size ? { size: opts.size } : {}),
    // Off unless a test is about backups (less work per start); backup-restore.test.ts runs an unplanned
    // failover and rejoin with a repository, where a rejoining old leader's WAL once stalled a replica.
    backups: opts.backups ?? false,
    ...(opts.agent ? { agent: opts.agent } : {}),
    ...(opts.memberParams ? { memberParams: opts.memberParams } : {}),
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.exporters ? { exporters: true } : {}),
  })
  live.add(cluster)
  t.teardown(async () => {
    await cluster.destroy()
    live.delete(cluster)
    if (t.passing() && !process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true })
    else t.comment(`cluster folder kept for inspection: ${dir}`)
  })
  await cluster.start()
  return cluster
}

/** Seconds since `t0` (a Date.now() value), for the figures a test reports. */
export const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`
