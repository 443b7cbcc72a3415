// The cook's log: every line to stdout and to /var/log/cook.log with a timestamp, steps numbered
// `Step N: ...`. Secret values are masked here as a last line of defence; callers never pass them anyway.
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export interface LogOptions {
  /** The log file; undefined logs to `out` only. */
  file?: string | undefined
  out: (line: string) => void
  /** Values that must never appear in a log line. */
  secrets?: string[]
  now?: () => Date
}

export class StepLog {
  private step = 0
  private fileBroken = false
  private secrets: string[]

  constructor(private readonly opts: LogOptions) {
    this.secrets = (opts.secrets ?? []).filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
  }

  /** More values to mask, once the parameters are known. */
  addSecrets(values: (string | undefined)[]): void {
    for (const v of values) if (v) this.secrets.push(v)
    this.secrets.sort((a, b) => b.length - a.length)
  }

  /** A numbered step. */
  next(message: string): void {
    this.step += 1
    this.line(`Step ${this.step}: ${message}`)
  }

  /** A detail of the current step. */
  info(message: string): void {
    this.line(`  ${message}`)
  }

  private line(message: string): void {
    let text = message
    for (const s of this.secrets) text = text.split(s).join('<redacted>')
    const stamped = `${(this.opts.now ?? (() => new Date()))().toISOString()} ${text}`
    this.opts.out(stamped)
    if (this.opts.file === undefined || this.fileBroken) return
    try {
      mkdirSync(dirname(this.opts.file), { recursive: true, mode: 0o755 })
      appendFileSync(this.opts.file, `${stamped}\n`, { mode: 0o640 })
    } catch (e) {
      // A full or read-only /var/log must not stop the jail from starting or stopping.
      this.fileBroken = true
      this.opts.out(`${stamped.slice(0, 24)} cannot write ${this.opts.file}: ${(e as Error).message}`)
    }
  }
}
