// `cook stop`, the jail's stop hook (exec.stop): runs inside the jail before jail(8) sends SIGTERM to
// every process at once. Patroni goes first, while the Consul agent still answers, so it can shut
// PostgreSQL down and delete the leader key: a replica takes over in seconds instead of after the TTL.
// It works from what the start left behind (rc.conf), bounds itself, and never fails: a stop hook that
// failed or hung would only delay the jail's stop, never prevent it.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { FreeBsd } from './freebsd.js'
import { checkPrivateFile } from './private-file.js'
import { DEFAULT_STOP_TIMEOUT_S } from './params.js'
import type { StepLog } from './log.js'
import type { RunResult } from './shell.js'

export interface StopOptions {
  sys: Pick<FreeBsd, 'sysrcGet' | 'service' | 'consulLeave'>
  log: StepLog
  /** The flag that tells a cook in the foreground (Nomad mode) that Patroni's exit is planned. */
  stopping: string
  /** Overrides patroni_stop_timeout from rc.conf. */
  timeoutS?: number
  /** The Consul agent's token for `consul leave` (0600, root), written by the start when ACLs are on. */
  consulTokenFile?: string
}

export type Outcome = 'stopped' | 'not running' | 'timed out' | 'failed' | 'skipped'

export interface StopReport {
  timeoutS: number
  patroni: Outcome
  node_exporter: Outcome
  consul: Outcome
  elapsedMs: number
}

/** Time kept back from Patroni's share for the steps after it. */
const NODE_EXPORTER_MS = 2000
const CONSUL_LEAVE_MS = 3000

export async function stopJail(o: StopOptions): Promise<StopReport> {
  const t0 = Date.now()
  const { log, sys } = o
  const report: StopReport = {
    timeoutS: DEFAULT_STOP_TIMEOUT_S,
    patroni: 'skipped',
    node_exporter: 'skipped',
    consul: 'skipped',
    elapsedMs: 0,
  }
  try {
    log.next('cook stop: the jail is stopping; handing over before its processes get SIGTERM')
    try {
      mkdirSync(dirname(o.stopping), { recursive: true })
      writeFileSync(o.stopping, `${process.pid}\n`)
    } catch (e) {
      log.info(`cannot write ${o.stopping}: ${(e as Error).message}`)
    }
    const state = await readState(o)
    report.timeoutS = state.timeoutS
    const deadline = t0 + state.timeoutS * 1000
    // The later steps keep a few seconds back, never more than a third of the whole: Patroni matters most.
    const reserve = Math.min(
      NODE_EXPORTER_MS + (state.consul ? CONSUL_LEAVE_MS : 0),
      (state.timeoutS * 1000) / 3,
    )
    const patroniMs = left(deadline - reserve)
    const consulShare = state.consul ? (reserve * CONSUL_LEAVE_MS) / (NODE_EXPORTER_MS + CONSUL_LEAVE_MS) : 0

    log.next(`stopping patroni (up to ${(patroniMs / 1000).toFixed(1)} s)`)
    report.patroni = await step(log, () =>
      sys.service('patroni', 'stop', { timeoutMs: patroniMs, allowFailure: true }),
    )

    log.next('stopping node_exporter')
    report.node_exporter = await step(log, () =>
      sys.service('node_exporter', 'stop', {
        timeoutMs: left(deadline - consulShare),
        allowFailure: true,
      }),
    )

    if (state.consul) {
      log.next('consul leave: the agent leaves the cluster gracefully')
      const tokenFile = leaveTokenFile(o)
      report.consul = await step(log, () => sys.consulLeave(left(deadline), tokenFile))
    }
  } catch (e) {
    log.next(`cook stop: unexpected error, stopping anyway: ${(e as Error).message}`)
  }
  report.elapsedMs = Date.now() - t0
  log.next(`cook stop finished in ${(report.elapsedMs / 1000).toFixed(1)} s`)
  return report
}

/** The token file for `consul leave` when it is root's alone; without it consul leaves with no token. */
function leaveTokenFile(o: StopOptions): string | undefined {
  if (o.consulTokenFile === undefined) return undefined
  const why = checkPrivateFile(o.consulTokenFile)
  if (why === undefined) return o.consulTokenFile
  if (why !== 'missing') o.log.info(`${o.consulTokenFile} ${why}: not used; consul leave without a token`)
  return undefined
}

/** Milliseconds until the deadline, at least one second: a step that gets no time at all cannot even fail. */
function left(deadline: number): number {
  return Math.max(1000, deadline - Date.now())
}

interface State {
  timeoutS: number
  consul: boolean
}

/** What the start left in rc.conf: no parameters needed, so a jail with broken parameters still stops cleanly. */
async function readState(o: StopOptions): Promise<State> {
  const [timeout, consulEnable] = await Promise.all([
    o.sys.sysrcGet('patroni_stop_timeout').catch(() => undefined),
    o.sys.sysrcGet('consul_enable').catch(() => undefined),
  ])
  let timeoutS = o.timeoutS
  if (timeoutS === undefined) {
    if (timeout !== undefined && /^\d+$/.test(timeout) && Number(timeout) > 0) timeoutS = Number(timeout)
    else {
      o.log.info(
        `cannot read patroni_stop_timeout from rc.conf (${timeout === undefined ? 'not set, or sysrc failed' : `"${timeout}"`}); ` +
          `using ${DEFAULT_STOP_TIMEOUT_S} s`,
      )
      timeoutS = DEFAULT_STOP_TIMEOUT_S
    }
  }
  // Without a readable rc.conf the DCS is unknown: try `consul leave` too, it fails fast when there is no agent.
  const consul = consulEnable === undefined ? timeout === undefined : /^yes$/i.test(consulEnable)
  return { timeoutS, consul }
}

async function step(log: StepLog, action: () => Promise<RunResult>): Promise<Outcome> {
  let r: RunResult
  try {
    r = await action()
  } catch (e) {
    log.info(`failed: ${(e as Error).message}`)
    return 'failed'
  }
  const said = `${r.stdout}\n${r.stderr}`.trim().replace(/\s*\n\s*/g, ' / ')
  if (said) log.info(said)
  if (r.timedOut) {
    log.info("did not finish in time; the jail's SIGTERM follows")
    return 'timed out'
  }
  if (/not running/i.test(said)) return 'not running'
  if (r.exitCode !== 0) {
    log.info(`exit code ${r.exitCode}: treated as already stopped`)
    return 'failed'
  }
  return 'stopped'
}
