// Polling with a deadline: the cluster is observed, never assumed.
import { sleep } from './procs.js'

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
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeout: number; interval?: number; last?: () => string },
): Promise<T> {
  const end = Date.now() + opts.timeout
  let lastError: string
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
      lastError = ''
    } catch (e) {
      if (e instanceof GiveUp) throw e
      lastError = (e as Error).message
    }
    if (Date.now() > end) {
      const detail = opts.last?.() ?? lastError
      throw new WaitTimeout(
        `timed out after ${opts.timeout / 1000} s waiting for ${what}${detail ? `: ${detail}` : ''}`,
      )
    }
    await sleep(opts.interval ?? 200)
  }
}
