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

/** A probe answers a value when ready, undefined or false when not yet; a thrown error counts as "not yet". */
export type Probe<T> = () => Promise<T | undefined | false> | T | undefined | false

export type Polled<T> = { ok: true; value: T } | { ok: false; last: string | undefined }

/**
 * The one polling loop of the project (the cook's waits and the development cluster's): calls `probe`
 * until it answers or `timeoutMs` has passed. An error that `fatal` recognises ends the wait at once.
 * `last` is the probe's last error message, undefined when it last answered "not yet".
 */
export async function poll<T>(
  probe: Probe<T>,
  opts: { timeoutMs: number; intervalMs: number; fatal?: (e: unknown) => boolean },
): Promise<Polled<T>> {
  const deadline = Date.now() + opts.timeoutMs
  for (;;) {
    let last: string | undefined
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return { ok: true, value }
    } catch (e) {
      if (opts.fatal?.(e)) throw e
      last = (e as Error).message
    }
    const left = deadline - Date.now()
    if (left <= 0) return { ok: false, last }
    await sleep(Math.min(opts.intervalMs, left))
  }
}

export async function waitUntil<T>(probe: Probe<T>, opts: WaitOptions): Promise<T> {
  const r = await poll(probe, opts)
  if (r.ok) return r.value
  throw new CookError(
    'SERVICE_FAILED',
    `${opts.what} did not come up within ${opts.timeoutMs / 1000} s (asked ${opts.where}; last: ${r.last ?? 'not ready'}); see ${opts.hint}`,
  )
}
