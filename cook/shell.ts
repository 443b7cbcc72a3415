// How the cook runs commands. `run` (every FreeBSD command of the adapter) starts argv words through
// /bin/sh (FreeBSD has no bash by default) with its output in files, so that a daemon that keeps its
// caller's descriptors can never hang the cook. `$` is zx (its core only: the bundle stays small) for
// steps written as shell text: every interpolated value becomes one single-quoted word (quote.ts `sh`).
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

/** After a timeout's SIGTERM, how long the command's process group has before SIGKILL. */
const KILL_GRACE_MS = 2000

/**
 * Runs one command given as argv words and returns its result, whatever the exit status.
 *
 * The command's stdout and stderr go to files, not pipes, and the result is ready when the command
 * itself exits. A parent that waits for its child's pipes to close (zx, execa, Node's 'close' event) hangs
 * for as long as any grandchild holds them: `service x start` of an rc script whose daemon(8) runs without
 * `-f` keeps the caller's stdout and stderr open for the daemon's whole life (usr.sbin/daemon/daemon.c).
 * With files there is nothing to hold, and a late writer can never get SIGPIPE either. On timeout the
 * command's process group gets SIGTERM, then SIGKILL after a grace period: the wait is bounded.
 */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cook-run-'))
  const outPath = join(dir, 'stdout')
  const errPath = join(dir, 'stderr')
  const outFd = openSync(outPath, 'w', 0o600)
  const errFd = openSync(errPath, 'w', 0o600)
  try {
    const ended = await new Promise<{ code: number | null; signal: string | null; timedOut: boolean }>(
      (resolve) => {
        // `exec "$@"` in /bin/sh: argv reaches the command unchanged, and a missing command is sh's
        // "not found" with exit status 127, as zx reports it.
        const child = spawn('/bin/sh', ['-c', 'exec "$@"', 'sh', ...argv], {
          env: opts.env ?? process.env,
          stdio: ['ignore', outFd, errFd],
          detached: true,
        })
        let timedOut = false
        let killer: NodeJS.Timeout | undefined
        const group = (signal: NodeJS.Signals) => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, signal)
          } catch {
            // the group is gone already
          }
        }
        const timer =
          opts.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true
                group('SIGTERM')
                killer = setTimeout(() => group('SIGKILL'), KILL_GRACE_MS)
              }, opts.timeoutMs)
        child.once('error', () => {
          clearTimeout(timer)
          clearTimeout(killer)
          resolve({ code: 127, signal: null, timedOut })
        })
        child.once('exit', (code, signal) => {
          clearTimeout(timer)
          clearTimeout(killer)
          resolve({ code, signal, timedOut })
        })
      },
    )
    return {
      argv,
      stdout: readFileSync(outPath, 'utf8'),
      stderr: readFileSync(errPath, 'utf8'),
      exitCode: ended.code,
      signal: ended.signal,
      timedOut: ended.timedOut,
    }
  } finally {
    closeSync(outFd)
    closeSync(errFd)
    rmSync(dir, { recursive: true, force: true })
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
