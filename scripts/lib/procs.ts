// The processes a development cluster starts, tracked by PID so that every one of them can be stopped,
// and only those: never by name, never a whole process group we did not create.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'

export interface Proc {
  name: string
  pid: number
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>
  done: boolean
}

export interface Supervised extends Proc {
  /** How often the program was started again after it exited. */
  restarts: number
  /** Ends the supervision: the next exit is final. */
  unsupervise(): void
}

export interface StartOptions {
  /** stdout and stderr go here (appended). */
  log: string
  /** Run as this user with setpriv, which execs: the PID we hold is the program's own. */
  user?: string
  cwd?: string
}

/**
 * argv that runs `argv` as `user` through setpriv, which execs: the PID a caller holds is the program's
 * own (runuser would stay in between). PostgreSQL and Patroni refuse to run as root.
 */
export function asUser(user: string, argv: string[]): string[] {
  return ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups', '--reset-env', ...argv]
}

/** Every process started through a registry; `killAllNow` is synchronous so an exit handler can use it. */
export class Procs {
  readonly all: Proc[] = []

  start(name: string, argv: string[], opts: StartOptions): Proc {
    const [cmd = '', ...args] = opts.user ? asUser(opts.user, argv) : argv
    const fd = openSync(opts.log, 'a', 0o600)
    // Detached: a Ctrl-C in the developer's terminal reaches only us, and we stop the rest in order.
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], cwd: opts.cwd ?? '/' })
    closeSync(fd)
    if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`)
    const proc: Proc = {
      name,
      pid: child.pid,
      done: false,
      exited: new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          proc.done = true
          resolve(code ?? signal ?? 'unknown')
        }),
      ),
    }
    child.unref()
    this.all.push(proc)
    return proc
  }

  /**
   * A program under supervision, as the jail runs Patroni under daemon(8) -R: when it exits it is started
   * again after `delayMs`, until `unsupervise()` (what SIGTERM to daemon's supervisor does). `pid` is the
   * current run's; `exited` resolves when supervision has ended and the last run has exited.
   */
  supervise(name: string, argv: string[], opts: StartOptions, delayMs: number): Supervised {
    let supervising = true
    let wake: () => void = () => undefined
    let finish: (code: number | string) => void = () => undefined
    const s: Supervised = {
      name,
      pid: 0,
      done: false,
      restarts: 0,
      exited: new Promise((resolve) => (finish = resolve)),
      unsupervise: () => {
        supervising = false
        wake() // a stop during the restart delay ends it now
      },
    }
    const run = () => {
      const p = this.start(name, argv, opts)
      s.pid = p.pid
      void p.exited.then(async (code) => {
        if (supervising)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs)
            wake = () => {
              clearTimeout(timer)
              resolve()
            }
          })
        if (!supervising) {
          s.done = true
          finish(code)
          return
        }
        s.restarts++
        run()
      })
    }
    run()
    return s
  }

  /** SIGKILL to every process still running, with their descendants; for exit paths that cannot wait. */
  killAllNow(): void {
    for (const p of this.all) if (!p.done) signalAll([p.pid, ...descendants(p.pid)], 'SIGKILL')
  }
}

/** Sends a signal to each PID that still exists; a process that is already gone is not an error. */
export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    // State Z: a zombie waits for its parent; it holds no resources and counts as gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** Parent PID of every process, from /proc (Linux). */
function parents(): Map<number, number> {
  const map = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // The command name in parentheses may contain spaces and parentheses: read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      map.set(Number(entry), ppid)
    } catch {
      // the process ended while we listed /proc
    }
  }
  return map
}

/** Children, grandchildren, ... of `pid`. */
export function descendants(pid: number): number[] {
  const ppid = parents()
  const out: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const p = queue.shift()
    for (const [child, parent] of ppid)
      if (parent === p && !out.includes(child)) {
        out.push(child)
        queue.push(child)
      }
  }
  return out
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Waits until none of `pids` is alive; false when `ms` ran out first. */
export async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (pids.some(isAlive)) {
    if (Date.now() > end) return false
    await sleep(50)
  }
  return true
}
