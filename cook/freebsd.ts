// The FreeBSD commands the cook uses, each a function of its arguments: sysrc(8) for rc.conf, service(8)
// for rc.d scripts, and the Consul CLI for `consul leave`. Tests put recording stand-ins on PATH.
import { commandError, run, type RunOptions, type RunResult } from './shell.js'

export type ServiceAction = 'start' | 'stop' | 'restart' | 'reload' | 'status' | 'onestart' | 'onestop'

export interface FreeBsd {
  /** The value rc.conf gives NAME, or undefined when it is not set. */
  sysrcGet(name: string): Promise<string | undefined>
  /** Sets NAME only when its value differs, so a second run writes nothing. True when it changed. */
  sysrcEnsure(name: string, value: string): Promise<boolean>
  /** `service NAME ACTION`; throws with the command's stderr unless `allowFailure`. */
  service(
    name: string,
    action: ServiceAction,
    opts?: { timeoutMs?: number; allowFailure?: boolean },
  ): Promise<RunResult>
  /** True when the service's rc script reports it running (`service NAME status` exits 0). */
  running(name: string): Promise<boolean>
  /** `consul leave`: the local agent leaves the cluster gracefully and exits. */
  consulLeave(timeoutMs: number): Promise<RunResult>
}

export interface FreeBsdOptions {
  /** Environment of every command (tests put their stand-ins first on PATH). */
  env?: NodeJS.ProcessEnv
}

export function freebsd(opts: FreeBsdOptions = {}): FreeBsd {
  const base: RunOptions = opts.env ? { env: opts.env } : {}
  const must = async (argv: string[], extra: RunOptions = {}) => {
    const r = await run(argv, { ...base, ...extra })
    if (r.exitCode !== 0) throw commandError(r, extra.timeoutMs)
    return r
  }
  return {
    async sysrcGet(name) {
      // -q: an unset variable is no error message, just a non-zero exit.
      const r = await run(['sysrc', '-q', '-n', name], base)
      return r.exitCode === 0 ? r.stdout.replace(/\n$/, '') : undefined
    },
    async sysrcEnsure(name, value) {
      if ((await this.sysrcGet(name)) === value) return false
      await must(['sysrc', `${name}=${value}`])
      return true
    },
    async service(name, action, o = {}) {
      const extra: RunOptions = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }
      const r = await run(['service', name, action], { ...base, ...extra })
      if (r.exitCode !== 0 && !o.allowFailure) throw commandError(r, o.timeoutMs)
      return r
    },
    async running(name) {
      return (await run(['service', name, 'status'], base)).exitCode === 0
    },
    async consulLeave(timeoutMs) {
      return run(['consul', 'leave'], { ...base, timeoutMs })
    },
  }
}
