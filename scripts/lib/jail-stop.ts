// What `jail -r` does to a member of a development cluster started with `agent: 'gateway'`: the jail's stop
// command (the real `cook stop`, through an adapter that stands in for FreeBSD's service(8) and sysrc(8)),
// then SIGTERM to every process of the member at once, its etcd gateway included, and SIGKILL to whatever
// is left after stop.timeout. Without the hook, the gateway dies together with Patroni, as the in-jail
// Consul agent does, so Patroni's delete of the leader key has nowhere to go.
import { join } from 'node:path'
import type { FreeBsd } from '../../cook/freebsd.js'
import { PATHS } from '../../cook/layout.js'
import { StepLog } from '../../cook/log.js'
import type { RunResult } from '../../cook/shell.js'
import { stopJail, type StopReport } from '../../cook/stop.js'
import type { Cluster, Member } from './cluster.js'
import { isAlive, signalAll, waitGone } from './procs.js'

export interface JailStopOptions {
  /** Run `cook stop` first, as a jail with exec.stop does (pot >= 0.16.0 with the image's attributes). */
  hook: boolean
  /** The jail's stop.timeout: seconds between the mass SIGTERM and SIGKILL. */
  stopTimeoutS: number
  /** The hook's log lines. */
  out?: (line: string) => void
}

export interface JailStopResult {
  report: StopReport | undefined
  /** PIDs that got the mass SIGTERM, and those of them that were still alive for SIGKILL. */
  terminated: number[]
  killed: number[]
}

function result(argv: string[], stdout: string, exitCode: number, timedOut = false): RunResult {
  return { argv, stdout, stderr: '', exitCode, signal: null, timedOut }
}

/**
 * FreeBSD's service(8) and sysrc(8) for one dev member, answering as rc.subr does: `service patroni stop`
 * sends SIGTERM and waits for the process to exit; a service that is not there is "not running?".
 */
export function memberSys(c: Cluster, m: Member): Pick<FreeBsd, 'sysrcGet' | 'service' | 'consulLeave'> {
  return {
    // What the start leaves in the jail's rc.conf.
    sysrcGet: async (name) =>
      name === 'consul_enable'
        ? m.params.DCS === 'consul'
          ? 'YES'
          : 'NO'
        : name === 'patroni_stop_timeout'
          ? String(m.params.STOPTIMEOUT)
          : undefined,
    service: async (name, action, o = {}) => {
      const argv = ['service', name, action]
      const proc = m.proc
      if (name !== 'patroni' || action !== 'stop')
        return result(argv, `${name} not running? (no such service in the dev member ${m.name})`, 1)
      if (!proc || proc.done) return result(argv, `${name} not running? (check ${c.logHint(m)})`, 1)
      proc.unsupervise() // the rc.d script signals daemon(8)'s supervisor: no restart follows
      signalAll([proc.pid], 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const expired = new Promise((resolve) => (timer = setTimeout(resolve, o.timeoutMs ?? 60000, 'timeout')))
      const r = await Promise.race([proc.exited, expired])
      clearTimeout(timer)
      return r === 'timeout'
        ? result(argv, `Stopping ${name}.\nWaiting for PIDS: ${proc.pid}`, 1, true)
        : result(argv, `Stopping ${name}.\nWaiting for PIDS: ${proc.pid}.`, 0)
    },
    consulLeave: async () => result(['consul', 'leave'], 'no Consul agent: DCS=etcd', 1),
  }
}

export async function jailStop(c: Cluster, m: Member, o: JailStopOptions): Promise<JailStopResult> {
  m.up = false
  let report: StopReport | undefined
  if (o.hook) {
    const log = new StepLog({ out: o.out ?? (() => undefined) })
    report = await stopJail({
      sys: memberSys(c, m),
      log,
      stopping: join(m.root, PATHS.stopping),
    })
  }
  // jail(8) signals every process of the jail in one pass: nothing of the member gets a head start, and
  // daemon(8)'s supervisor, SIGTERMed with the rest, restarts nothing.
  m.proc?.unsupervise()
  const terminated = c.memberPids(m)
  signalAll(terminated, 'SIGTERM')
  let killed: number[] = []
  if (!(await waitGone(terminated, o.stopTimeoutS * 1000))) {
    killed = terminated.filter(isAlive)
    signalAll(killed, 'SIGKILL')
    if (!(await waitGone(killed, 10000))) throw new Error(`${m.name}: processes survived SIGKILL`)
  }
  // The children are unref'd and waitGone counts a zombie as gone: a timer keeps Node alive until their
  // exit events arrive, or a script with nothing else pending would end here.
  const keepAlive = setInterval(() => undefined, 1000)
  try {
    await m.proc?.exited
    await m.gateway?.exited
  } finally {
    clearInterval(keepAlive)
  }
  return { report, terminated, killed }
}
