// Waiting for something to come up: poll a probe until it answers or a deadline passes, then fail with
// a message that names what did not come up, where it was asked, and where its log is.
import { setTimeout as sleep } from 'node:timers/promises'
import { CookError } from './errors.js'

export interface WaitOptions {
  /** What is awaited, e.g. `the Consul agent's leader`. */
  what: string
  /** Where it was asked, e.g. a URL. */
  where: string
  /** Where to look when it does not come up, e.g. a log file. */
  hint: string
  timeoutMs: number
  intervalMs: number
}

/** A probe answers a value when ready, undefined when not yet; a thrown error counts as "not yet". */
export type Probe<T> = () => Promise<T | undefined>

export async function waitUntil<T>(probe: Probe<T>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let last: string
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
      last = 'not ready'
    } catch (e) {
      last = (e as Error).message
    }
    const left = deadline - Date.now()
    if (left <= 0)
      throw new CookError(
        'SERVICE_FAILED',
        `${opts.what} did not come up within ${opts.timeoutMs / 1000} s (asked ${opts.where}; last: ${last}); see ${opts.hint}`,
      )
    await sleep(Math.min(opts.intervalMs, left))
  }
}
