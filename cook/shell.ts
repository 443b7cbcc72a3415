// The one module that imports zx (its core only: the bundle stays small, the jail start fast). FreeBSD has no bash by default, so commands run in /bin/sh, and every
// interpolated value becomes one single-quoted word (quote.ts `sh`), whatever characters it holds.
import { $ as zx, ProcessOutput } from 'zx/core'
import { CookError } from './errors.js'
import { sh } from './quote.js'

/**
 * zx's `$` for this project. zx puts `set -euo pipefail;` in front of commands when it finds bash; dash
 * has no pipefail, so prefix and postfix are empty and each caller's command stands alone.
 */
export const $ = zx({ shell: '/bin/sh', prefix: '', postfix: '', quote: sh, verbose: false, quiet: true })

export interface RunOptions {
  /** The child's whole environment; the default is the cook's own. */
  env?: NodeJS.ProcessEnv
  /** Kills the command (SIGTERM to it and its children) after this many milliseconds. */
  timeoutMs?: number
  /** The command's standard input: how a secret or SQL reaches it without argv. */
  input?: string
}

export interface RunResult {
  argv: string[]
  stdout: string
  stderr: string
  /** null when a signal (or the timeout) ended the command. */
  exitCode: number | null
  signal: string | null
  /** True when the timeout ended it (the command's own status is then whatever the kill made of it). */
  timedOut: boolean
}

/** Runs one command given as argv words and returns its result, whatever the exit status. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const ac = new AbortController()
  let timedOut = false
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true
          ac.abort()
        }, opts.timeoutMs)
  try {
    const out: ProcessOutput = await $({
      nothrow: true,
      ac,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.input === undefined ? {} : { input: opts.input }),
    })`${argv}`
    return {
      argv,
      stdout: out.stdout,
      stderr: out.stderr,
      exitCode: out.exitCode,
      signal: out.signal,
      timedOut,
    }
  } finally {
    clearTimeout(timer)
  }
}

/** Runs a command that must succeed; a failure is a CookError carrying command, exit code and stderr. */
export async function runOk(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, opts)
  if (result.exitCode !== 0) throw commandError(result, opts.timeoutMs)
  return result
}

/** The message zx gives a failed command: what ran, how it ended, and what it said on stderr. */
export function commandError(result: RunResult, timeoutMs?: number): CookError {
  const info = result.exitCode === null ? undefined : ProcessOutput.getExitCodeInfo(result.exitCode)
  const ended = result.timedOut
    ? `timed out after ${(timeoutMs ?? 0) / 1000} s`
    : result.exitCode === null
      ? `signal: ${result.signal ?? 'unknown'}`
      : `exit code: ${result.exitCode}${info ? ` (${info})` : ''}`
  const stderr = result.stderr.trim()
  return new CookError(
    'SERVICE_FAILED',
    [`command failed: ${commandLine(result.argv)}`, ended, ...(stderr ? [`stderr: ${stderr}`] : [])].join(
      '\n',
    ),
  )
}

/** argv as a shell would need it typed: for messages and logs. */
export function commandLine(argv: string[]): string {
  return argv.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : sh(word))).join(' ')
}
