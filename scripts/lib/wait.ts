// Polling with a deadline: the cluster is observed, never assumed. The loop is the cook's own (cook/wait.ts).
import { poll, type Probe } from '../../cook/wait.js'

export class WaitTimeout extends Error {
  override name = 'WaitTimeout'
}

/** Thrown by a probe when waiting longer cannot help (a process it needs has exited). */
export class GiveUp extends Error {
  override name = 'GiveUp'
}

/**
 * Calls `probe` until it returns a value other than undefined/false, or throws a WaitTimeout naming
 * `what` and the last thing the probe said (its error, or the value of `last`). A GiveUp ends it at once.
 */
export async function waitFor<T>(
  what: string,
  probe: Probe<T>,
  opts: { timeout: number; interval?: number; last?: () => string },
): Promise<T> {
  const r = await poll(probe, {
    timeoutMs: opts.timeout,
    intervalMs: opts.interval ?? 200,
    fatal: (e) => e instanceof GiveUp,
  })
  if (r.ok) return r.value
  const detail = opts.last?.() ?? r.last ?? ''
  throw new WaitTimeout(
    `timed out after ${opts.timeout / 1000} s waiting for ${what}${detail ? `: ${detail}` : ''}`,
  )
}
