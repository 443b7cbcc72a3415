// The FreeBSD commands the cook uses, each a function of its arguments: sysrc(8) for rc.conf, service(8)
// for rc.d scripts, and the Consul CLI for `consul leave`. Each is called by its absolute path: jail(8)
// runs exec.stop with the environment of whoever ran pot (pot's stop.sh sets no exec.clean), and under
// Nomad started at boot that PATH lacks /usr/local/bin. Tests name their stand-ins in `commands`.
import { closeSync, openSync, readSync } from 'node:fs'
import { CookError } from './errors.js'
import { commandError, run as runCommand, type RunOptions, type RunResult } from './shell.js'

/** Where FreeBSD (base and packages) installs the commands the cook runs. */
export const COMMANDS = {
  sysrc: '/usr/sbin/sysrc',
  service: '/usr/sbin/service',
  consul: '/usr/local/bin/consul',
} as const

export type CommandName = keyof typeof COMMANDS

/**
 * The PATH every command the cook runs gets. service(8) itself runs an rc script with the base system's only
 * (usr.sbin/service/service.sh: `env -i ... PATH=/sbin:/bin:/usr/sbin:/usr/bin`), so an rc script names
 * /usr/local's programs by their paths.
 */
export const JAIL_PATH = '/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin'

export type ServiceAction =
  'start' | 'stop' | 'restart' | 'reload' | 'status' | 'onestart' | 'onestop' | 'onestatus'

export interface FreeBsd {
  /** The value rc.conf gives NAME, or undefined when it is not set. */
  sysrcGet(name: string): Promise<string | undefined>
  /**
   * Sets NAME only when its value differs, so a second run writes nothing. True when it changed. Refuses a
   * value sysrc cannot carry (see sysrcRefusal), writing nothing.
   */
  sysrcEnsure(name: string, value: string): Promise<boolean>
  /** `service NAME ACTION`; throws with the command's stderr unless `allowFailure`. */
  service(
    name: string,
    action: ServiceAction,
    opts?: { timeoutMs?: number; allowFailure?: boolean },
  ): Promise<RunResult>
  /**
   * True when the service's rc script reports it running (`service NAME onestatus` exits 0). `onestatus`, not
   * `status`: rc.subr answers a `status` of a service whose rcvar is not YES with "Cannot 'status' NAME" and
   * exit 0 (every release whose run_rc_command predates the service-jail rework), so a service that was never
   * enabled would count as running.
   */
  running(name: string): Promise<boolean>
  /**
   * `consul leave`: the local agent leaves the cluster gracefully and exits. The token, if any, is read by
   * consul itself from `tokenFile` (CONSUL_HTTP_TOKEN_FILE): it is never in argv or an environment.
   */
  consulLeave(timeoutMs: number, tokenFile?: string): Promise<RunResult>
}

export interface FreeBsdOptions {
  /** Environment of every command; the default is the cook's own with PATH set to JAIL_PATH. */
  env?: NodeJS.ProcessEnv
  /** Paths of the commands; tests name their stand-ins here. */
  commands?: Partial<Record<CommandName, string>>
  /** The platform the refusal of non-stand-ins looks at; tests of that refusal set it. */
  platform?: NodeJS.Platform
}

/** The line by which a test's stand-in for a FreeBSD command declares itself. */
export const STAND_IN_MARK = 'cook-stand-in'

/**
 * Off FreeBSD the adapter runs only commands that declare themselves stand-ins: a Linux machine has a
 * service(8) of its own (Debian's /usr/sbin/service), and no test may ever stop that machine's services.
 */
function refusal(path: string, platform: NodeJS.Platform): string | undefined {
  if (platform === 'freebsd') return undefined
  let head: string
  try {
    const fd = openSync(path, 'r')
    try {
      const buf = Buffer.alloc(512)
      head = buf.subarray(0, readSync(fd, buf, 0, 512, 0)).toString('latin1')
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined // a missing command fails by itself, with sh's "not found"
  }
  return head.includes(STAND_IN_MARK)
    ? undefined
    : `refused to run ${path}: this is ${platform}, not FreeBSD, and it is not a cook stand-in`
}

/**
 * Why sysrc(8) cannot store `value` so that it comes back unchanged, or undefined. sysrc writes NAME="VALUE"
 * without escaping and reads it back by sourcing rc.conf with sh (usr.sbin/bsdconfig/share/sysrc.subr:
 * f_sysrc_set, f_sysrc_get), and rc.subr reads it the same way: inside double quotes sh expands `$` and
 * backquotes and removes backslashes, a `"` ends the value (or breaks the file for every later sysrc and rc
 * script), and a newline would become a line of its own. Such a value would differ at every read, so the cook
 * would rewrite it at every start; none of the cook's values can hold one today (paths, addresses, numbers,
 * fixed names), and this keeps it so.
 */
export function sysrcRefusal(value: string): string | undefined {
  const bad = [...new Set(value.match(/["$`\\\n]/g) ?? [])]
  if (bad.length === 0) return undefined
  const shown = bad.map((c) => (c === '\n' ? 'a newline' : c)).join(' ')
  return `holds ${shown}, which rc.conf cannot carry: sysrc writes NAME="VALUE" unescaped and sh reads it back`
}

export function freebsd(opts: FreeBsdOptions = {}): FreeBsd {
  const env = opts.env ?? { ...process.env, PATH: JAIL_PATH }
  const cmd = { ...COMMANDS, ...opts.commands }
  const run = async (argv: string[], extra: RunOptions = {}): Promise<RunResult> => {
    const why = refusal(argv[0] ?? '', opts.platform ?? process.platform)
    if (why !== undefined)
      return { argv, stdout: '', stderr: why, exitCode: 126, signal: null, timedOut: false }
    return runCommand(argv, { env, ...extra })
  }
  const must = async (argv: string[], extra: RunOptions = {}) => {
    const r = await run(argv, extra)
    if (r.exitCode !== 0) throw commandError(r, extra.timeoutMs)
    return r
  }
  return {
    async sysrcGet(name) {
      // -q: an unset variable is no error message, just a non-zero exit.
      const r = await run([cmd.sysrc, '-q', '-n', name])
      return r.exitCode === 0 ? r.stdout.replace(/\n$/, '') : undefined
    },
    async sysrcEnsure(name, value) {
      const why = sysrcRefusal(value)
      if (why !== undefined)
        throw new CookError('SERVICE_FAILED', `rc.conf variable ${name}: ${why}`, [{ name, message: why }])
      if ((await this.sysrcGet(name)) === value) return false
      await must([cmd.sysrc, `${name}=${value}`])
      return true
    },
    async service(name, action, o = {}) {
      const extra: RunOptions = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }
      const r = await run([cmd.service, name, action], extra)
      if (r.exitCode !== 0 && !o.allowFailure) throw commandError(r, o.timeoutMs)
      return r
    },
    async running(name) {
      return (await run([cmd.service, name, 'onestatus'])).exitCode === 0
    },
    async consulLeave(timeoutMs, tokenFile) {
      // The cook's own environment may hold a token from an operator's shell: consul would prefer it.
      const { CONSUL_HTTP_TOKEN: _t, CONSUL_HTTP_TOKEN_FILE: _f, ...rest } = env
      const leaveEnv = tokenFile === undefined ? rest : { ...rest, CONSUL_HTTP_TOKEN_FILE: tokenFile }
      return run([cmd.consul, 'leave'], { timeoutMs, env: leaveEnv })
    },
  }
}
