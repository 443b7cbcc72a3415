// Nomad mode: after the start, cook stays in the foreground as the task's process while Patroni runs, so
// that Nomad sees Patroni's death (exit 1: restart the task) and the task's stop (exit 0 once Patroni is
// down). Its own module: the start (cook/lifecycle.ts) knows nothing of it.
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FreeBsd } from './freebsd.js'
import type { StepLog } from './log.js'
import { LOGS } from './service-logs.js'

export interface ForegroundOptions {
  sys: FreeBsd
  log: StepLog
  /** `cook stop`'s flag: when present, Patroni's exit is a planned stop, not a crash. */
  stopping: string
  /** How long to wait for Patroni after SIGTERM/SIGINT (the jail's stop budget). */
  stopBoundMs: number
  pollMs?: number
  /** Where SIGTERM and SIGINT arrive; the process itself outside tests. */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>
}

/**
 * Nomad mode: the task lives as long as this returns not. On SIGTERM/SIGINT wait (bounded) for Patroni to
 * finish and answer 0; if Patroni dies on its own, answer 1 so that Nomad restarts the task.
 */
export async function stayInForeground(o: ForegroundOptions): Promise<number> {
  const signals = o.signals ?? process
  const pollMs = o.pollMs ?? 1000
  let received: string | undefined
  let wake: (() => void) | undefined
  const onSignal = (name: string) => {
    received = name
    wake?.()
  }
  const onTerm = () => onSignal('SIGTERM')
  const onInt = () => onSignal('SIGINT')
  signals.on('SIGTERM', onTerm)
  signals.on('SIGINT', onInt)
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  try {
    o.log.next('Nomad mode: staying in the foreground while Patroni runs')
    let plannedSince: number | undefined
    for (;;) {
      if (received) return await drain(received, o, pollMs)
      if (!(await o.sys.running('patroni'))) {
        if (!existsSync(o.stopping)) {
          o.log.next(
            `Patroni is no longer running (see ${LOGS.patroni}); exiting 1 so that Nomad restarts the task`,
          )
          return 1
        }
        if (plannedSince === undefined) {
          plannedSince = Date.now()
          o.log.next('Patroni stopped by `cook stop`: the jail is stopping')
        } else if (Date.now() - plannedSince > o.stopBoundMs) {
          o.log.next('no signal followed `cook stop`; exiting 0')
          return 0
        }
      }
      await pause(pollMs)
    }
  } finally {
    signals.off('SIGTERM', onTerm)
    signals.off('SIGINT', onInt)
  }
}

async function drain(signal: string, o: ForegroundOptions, pollMs: number): Promise<number> {
  o.log.next(`received ${signal}: waiting up to ${o.stopBoundMs / 1000} s for Patroni to finish`)
  const deadline = Date.now() + o.stopBoundMs
  while (await o.sys.running('patroni')) {
    if (Date.now() >= deadline) {
      o.log.next(
        `Patroni still running after ${o.stopBoundMs / 1000} s; exiting 0 (the jail kills what is left)`,
      )
      return 0
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())))
  }
  o.log.next('Patroni has exited; exiting 0')
  return 0
}
