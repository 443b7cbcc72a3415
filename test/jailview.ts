// A FreeBSD-shaped view of this Linux machine for the tests of what runs inside the jail: a private mount
// namespace (unshare) whose /etc, /usr/sbin, /usr/local, /var, /run and /mnt are overlays on the real ones,
// holding the image's own files (the cook bundle, its launcher and stop hook, the rendered rc.d scripts)
// at their jail paths, and stand-ins for what only FreeBSD has at theirs (service(8), sysrc(8), daemon(8),
// /etc/rc.subr; the packages' consul, patroni and node_exporter). Nothing in the real directories changes:
// every write lands in the test's upper directories. Commands run in it like jexec runs them in a jail
// (nsenter into the namespace, with the environment they are given and nothing else), and `stop()` does
// what jail(8) -r does: exec.stop first, then SIGTERM to every process in the jail, SIGKILL after a grace.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { STAND_IN_MARK } from '../cook/freebsd.js'
import { JAIL_STANDINS } from './jail-standins.js'

/** The directories the view lays over the real ones. */
const OVERLAID = ['/etc', '/usr/sbin', '/usr/local', '/var', '/run', '/mnt']

export interface ViewRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface JailView {
  /** The upper directory: `at('/etc/rc.conf')` is where the jail's /etc/rc.conf landed. */
  at(path: string): string
  read(path: string): string
  /** Writes a file into the jail (before or while it runs). */
  put(path: string, content: string | Buffer, mode?: number): void
  /** Runs `sh -c script` in the jail with exactly `env` (default: PATH of the jail's rc) and cwd. */
  run(
    script: string,
    o?: { env?: Record<string, string>; cwd?: string; timeoutMs?: number },
  ): Promise<ViewRun>
  /** The stand-ins' calls, one `command args...` line each. */
  calls(): string[]
  /** Processes in the jail (their pids), the holder aside. */
  pids(): number[]
  /** jail -r: exec.stop (if given), then SIGTERM to all, SIGKILL after graceMs; tears the view down. */
  stop(o?: {
    execStop?: string
    env?: Record<string, string>
    cwd?: string
    graceMs?: number
  }): Promise<ViewRun | undefined>
}

/** What FreeBSD's jail(8) and pot give exec.stop when Nomad runs at boot: the base system's PATH only. */
export const MINIMAL_ENV = { PATH: '/sbin:/bin:/usr/sbin:/usr/bin' }

/** True when this machine lets a test make a mount namespace with overlays (root on Linux). */
export function canMakeJailView(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false
  const r = spawnSync('unshare', ['--mount', '--fork', 'true'], { stdio: 'ignore' })
  return r.status === 0
}

function mntNs(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`)
  } catch {
    return undefined
  }
}

export interface JailViewOptions {
  /** A /tmp of the jail's own (a tmpfs), as a pot's /tmp is: what pot writes there stays in the test. */
  privateTmp?: boolean
}

export async function jailView(dir: string, opts: JailViewOptions = {}): Promise<JailView> {
  const upper = join(dir, 'upper')
  const work = join(dir, 'work')
  const log = '/var/log/standin-calls.log'
  for (const d of OVERLAID) {
    mkdirSync(join(upper, d), { recursive: true })
    mkdirSync(join(work, d), { recursive: true })
  }
  // /var/run is a link to /run on this machine: its files land in the /run overlay.
  const at = (path: string) => join(upper, path.replace(/^\/var\/run(?=\/|$)/, '/run'))
  // Before the overlays are mounted a file goes straight into the upper directory; after, it must go
  // through the mount (overlayfs does not see changes made beneath it), copied in from a staging file.
  let inner = 0
  const put = (path: string, content: string | Buffer, mode = 0o644) => {
    if (inner === 0) {
      mkdirSync(dirname(at(path)), { recursive: true })
      writeFileSync(at(path), content)
      chmodSync(at(path), mode)
      return
    }
    // Through stdin: with a private /tmp the jail does not see the test's temporary directory.
    const r = spawnSync(
      'nsenter',
      [
        '--target',
        String(inner),
        '--mount',
        '--',
        'sh',
        '-c',
        'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"',
        'sh',
        path,
        mode.toString(8),
      ],
      { encoding: 'utf8', input: content },
    )
    if (r.status !== 0) throw new Error(`cannot put ${path} into the jail: ${r.stderr}`)
  }
  for (const [path, body] of Object.entries(JAIL_STANDINS)) {
    const text = body.replace(
      '#!/bin/sh\n',
      `#!/bin/sh\n# ${STAND_IN_MARK}: the ${path} stand-in of the cook's tests\nSTANDIN_LOG=${log}\n`,
    )
    put(
      path,
      text,
      ['/etc/rc.subr', '/etc/defaults/rc.conf', '/etc/syslog.conf'].includes(path) ? 0o644 : 0o755,
    )
  }
  // World-writable: stand-ins that daemon(8) runs as another user (-u) record their calls too.
  put(log, '', 0o666)
  mkdirSync(at('/var/db'), { recursive: true })
  mkdirSync(at('/etc/rc.d'), { recursive: true })
  mkdirSync(at('/usr/local/etc/rc.d'), { recursive: true })
  put('/etc/rc.conf', '')
  // The users the image creates for postgres_exporter and node_exporter (jail-image/patroni-postgresql.sh).
  put(
    '/etc/passwd',
    `${readFileSync('/etc/passwd', 'utf8')}pgmonitor:*:990:990:postgres_exporter:/nonexistent:/usr/sbin/nologin\nnodeexport:*:991:991:node_exporter:/nonexistent:/usr/sbin/nologin\n`,
  )
  put('/etc/group', `${readFileSync('/etc/group', 'utf8')}pgmonitor:*:990:\nnodeexport:*:991:\n`)
  // The jail's node is /usr/local/bin/node, as FreeBSD's package installs it.
  if (!existsSync(at('/usr/local/bin/node'))) symlinkSync(process.execPath, at('/usr/local/bin/node'))

  const mounts = [
    ...OVERLAID.map(
      (d) =>
        `mount -t overlay overlay -o lowerdir=${d},upperdir=${join(upper, d)},workdir=${join(work, d)} ${d}`,
    ),
    ...(opts.privateTmp ? ['mount -t tmpfs -o mode=1777 tmpfs /tmp'] : []),
  ].join(' && ')
  // The holder keeps the namespace alive between commands, as a jail lives between jexecs, and no
  // longer than the test process.
  const holder: ChildProcess = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--fork',
      'sh',
      '-c',
      `${mounts} && echo ready && while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.once('data', () => resolve())
    holder.once('exit', (code) => reject(new Error(`the jail view could not be made (exit ${code})`)))
  })
  // unshare --fork: the namespace's first process is the holder's child, the `sh` that became sleep.
  inner = Number(
    spawnSync('pgrep', ['-P', String(holder.pid)], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0],
  )
  const ns = mntNs(inner)
  const pids = () =>
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((pid) => pid !== inner && pid !== holder.pid && mntNs(pid) === ns)

  const run: JailView['run'] = (script, o = {}) =>
    new Promise((resolve) => {
      const env = o.env ?? { PATH: '/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin' }
      const args = [
        '--target',
        String(inner),
        '--mount',
        '--',
        'env',
        '-i',
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        'sh',
        '-c',
        `cd ${o.cwd ?? '/'} && ${script}`,
      ]
      const child = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      // 'close', not 'exit': a test that asks whether a command lets go of its pipes needs exactly that.
      // The timeout answers whatever holds them: code null.
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve({ code: null, stdout, stderr: `${stderr}\n(timed out: the pipes were still open)` })
      }, o.timeoutMs ?? 60_000)
      child.once('close', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    })

  const killAll = (signal: NodeJS.Signals) => {
    for (const pid of pids())
      try {
        process.kill(pid, signal)
      } catch {
        // gone
      }
  }

  // A test that dies (tap's timeout) takes the jail's processes with it.
  const onExit = () => killAll('SIGKILL')
  process.once('exit', onExit)

  return {
    at,
    read: (path) => readFileSync(at(path), 'utf8'),
    put,
    run,
    calls: () =>
      readFileSync(at(log), 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    pids,
    async stop(o = {}) {
      let r: ViewRun | undefined
      if (o.execStop !== undefined)
        r = await run(o.execStop, { env: o.env ?? MINIMAL_ENV, ...(o.cwd ? { cwd: o.cwd } : {}) })
      killAll('SIGTERM')
      const deadline = Date.now() + (o.graceMs ?? 3000)
      while (pids().length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100))
      killAll('SIGKILL')
      process.off('exit', onExit)
      holder.kill('SIGKILL')
      try {
        process.kill(inner, 'SIGKILL')
      } catch {
        // gone
      }
      return r
    },
  }
}

/** Copies a file of this checkout into the jail at `path`. */
export function copyIn(view: JailView, from: string, path: string, mode = 0o755): void {
  view.put(path, readFileSync(from), mode)
}
