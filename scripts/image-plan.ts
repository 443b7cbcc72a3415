// The image build as data: options -> pot name, staged flavour, the ordered steps and the expected outputs.
// scripts/image.ts carries the steps out; the tests check them without FreeBSD.
import { sh } from '../cook/quote.js'
import { commandLine } from '../cook/shell.js'

export const FLAVOUR = 'patroni-postgresql'
export const NOMAD_FLAVOUR = `${FLAVOUR}+4`
/** pot's own flavour that runs freebsd-update in the new jail; pot installs it in its flavour directory. */
export const UPDATE_FLAVOUR = 'fbsd-update'
/** The oldest pot with the exec_stop and stop_timeout attributes the flavour sets (pot CHANGELOG, 0.16.0). */
export const MIN_POT_VERSION = '0.16.0'
/** Python flavour of the FreeBSD packages (py311-patroni ...): the package set's default Python. */
export const PY_FLAVOR = 'py311'
/** Patroni from PyPI, pinned, when the repository has no ${PY_FLAVOR}-patroni package. */
export const PATRONI_PIP = '4.0.7'
/**
 * The FreeBSD release the image is built on unless --freebsd names another: 15.1 (June 2026, supported
 * until at least 2027-03-31). README, "Supported FreeBSD releases", says which others are and why.
 */
export const DEFAULT_FREEBSD = '15.1'
/** The first 14.x release whose daemon(8) keeps a stop that arrives during the restart delay (PR 277959). */
const FIRST_FIXED_14 = 3

export interface ImageOptions {
  freebsd: string
  /** The one PostgreSQL major, or 'auto': the major the repository's psycopg2 is built against. */
  pg: number | 'auto'
  nomad: boolean
  out: string
  flavourDir: string
  version: string
  arch: string
}

/** A command (argv, never through a shell) or a file the builder writes itself. */
export type Step =
  | { kind: 'run'; argv: string[]; cwd?: string; pot?: boolean }
  | { kind: 'write'; path: string; content: string }

/** `uname -m` as FreeBSD names the architecture in its release and package names. */
export function freebsdArch(machine: string): string {
  const names: Record<string, string> = { x86_64: 'amd64', amd64: 'amd64', aarch64: 'arm64', arm64: 'arm64' }
  return names[machine] ?? machine.replace(/[^A-Za-z0-9]/g, '_')
}

/** patroni-postgresql-amd64-15_1: a jail name may not hold dots (they separate hierarchical jails). */
export function potName(o: Pick<ImageOptions, 'arch' | 'freebsd'>): string {
  return `${FLAVOUR}-${o.arch}-${o.freebsd.replace(/\./g, '_')}`
}

/** The three files `pot export` writes; all must exist, since it exits 0 when .meta or .skein failed. */
export function exportFiles(pot: string, tag: string): string[] {
  const xz = `${pot}_${tag}.xz`
  return [xz, `${xz}.meta`, `${xz}.skein`]
}

/** Problems with the options, each naming the option; empty when they are usable. */
export function checkOptions(o: Pick<ImageOptions, 'freebsd' | 'pg' | 'version'>): string[] {
  const problems: string[] = []
  const release = freebsdReleaseProblem(o.freebsd)
  if (release) problems.push(`--freebsd: ${release}`)
  if (o.pg !== 'auto' && (!Number.isInteger(o.pg) || o.pg < 13 || o.pg > 99))
    problems.push(`--pg: want auto or a PostgreSQL major such as 17 (13 or later), got "${o.pg}"`)
  if (!/^\d+\.\d+\.\d+$/.test(o.version)) problems.push(`package.json version "${o.version}" is not x.y.z`)
  return problems
}

/**
 * Why a FreeBSD release cannot carry the image, or undefined. FreeBSD 13 and older are end-of-life (stable/13
 * ended on 2026-04-30, the ports' EOL table), and 13.0 to 13.2's daemon(8) exits at once on SIGTERM without
 * waiting for Patroni. 14.0 to 14.2's daemon(8) can lose a SIGTERM that arrives while it waits to restart
 * Patroni (FreeBSD PR 277959: stable/14 commit 7ea2874eadf9 of 2024-12-10, after 14.2-RELEASE), so
 * `service patroni stop` would time out and Patroni start again; they are end-of-life as well.
 */
export function freebsdReleaseProblem(release: string): string | undefined {
  const m = /^(\d{2})\.(\d+)$/.exec(release)
  if (!m) return `want a release such as ${DEFAULT_FREEBSD}, got "${release}"`
  const [major, minor] = [Number(m[1]), Number(m[2])]
  if (major < 14)
    return (
      `FreeBSD ${release} is end-of-life (stable/13 ended on 2026-04-30), and 13.0 to 13.2's daemon(8) exits ` +
      `on SIGTERM before Patroni has stopped; want 14.${FIRST_FIXED_14} or later (README, "Supported FreeBSD releases")`
    )
  if (major === 14 && minor < FIRST_FIXED_14)
    return (
      `FreeBSD ${release}'s daemon(8) can lose a \`service patroni stop\` that arrives while it waits to ` +
      `restart Patroni (PR 277959, fixed in 14.${FIRST_FIXED_14}), and ${release} is end-of-life; want ` +
      `14.${FIRST_FIXED_14} or later (README, "Supported FreeBSD releases")`
    )
  return undefined
}

/** build.conf: how the PostgreSQL major reaches the in-jail build script, which pot runs with the pot name only. */
export function buildConf(o: Pick<ImageOptions, 'pg' | 'version'>): string {
  return [
    '# Written by scripts/image.ts (npm run image); read by patroni-postgresql.sh inside the jail.',
    `PG_MAJOR=${commandLine([String(o.pg)])}`,
    `PY_FLAVOR=${commandLine([PY_FLAVOR])}`,
    `PATRONI_PIP=${commandLine([PATRONI_PIP])}`,
    `IMAGE_VERSION=${commandLine([o.version])}`,
    '',
  ].join('\n')
}

/** Copies jail-image/ and the cook bundle into pot's flavour directory, laid out as the flavour files expect. */
export function stageSteps(root: string, o: Pick<ImageOptions, 'flavourDir' | 'pg' | 'version'>): Step[] {
  const src = `${root}/jail-image`
  const flv = o.flavourDir
  const d = `${flv}/${FLAVOUR}.d`
  return [
    { kind: 'run', argv: ['rm', '-rf', d, `${flv}/${NOMAD_FLAVOUR}.d`] },
    { kind: 'run', argv: ['mkdir', '-p', `${d}/cook/dist`] },
    {
      kind: 'run',
      argv: ['cp', `${src}/${FLAVOUR}`, `${src}/${FLAVOUR}.sh`, `${src}/${NOMAD_FLAVOUR}`, `${flv}/`],
    },
    { kind: 'run', argv: ['cp', '-R', `${src}/${FLAVOUR}.d/.`, `${d}/`] },
    { kind: 'run', argv: ['cp', '-R', `${src}/${NOMAD_FLAVOUR}.d`, `${flv}/`] },
    { kind: 'run', argv: ['cp', `${root}/dist/cook.mjs`, `${d}/cook/dist/cook.mjs`] },
    // For reading only: the bundle carries the templates precompiled (scripts/bundle.mjs).
    { kind: 'run', argv: ['cp', '-R', `${root}/templates`, `${d}/cook/templates`] },
    { kind: 'write', path: `${d}/build.conf`, content: buildConf(o) },
  ]
}

/** pot create, snapshot and export: potman's sequence for an image (see README, "Building the image"). */
export function potSteps(o: ImageOptions): Step[] {
  const pot = potName(o)
  const flavours = [UPDATE_FLAVOUR, FLAVOUR, ...(o.nomad ? [NOMAD_FLAVOUR] : [])]
  return [
    { kind: 'run', argv: ['mkdir', '-p', o.out] },
    {
      kind: 'run',
      pot: true,
      // pot looks for ./NAME before its own flavour directory (share/pot/common-flv.sh), so running in the
      // staging directory finds this flavour there, and fbsd-update in pot's directory.
      cwd: o.flavourDir,
      argv: [
        'pot',
        'create',
        '-b',
        o.freebsd,
        '-p',
        pot,
        '-t',
        'single',
        '-N',
        'public-bridge',
        ...flavours.flatMap((f) => ['-f', f]),
      ],
    },
    { kind: 'run', pot: true, argv: ['pot', 'snapshot', '-p', pot] },
    {
      kind: 'run',
      pot: true,
      argv: ['pot', 'export', '-c', '-l', '0', '-p', pot, '-t', o.version, '-D', o.out],
    },
  ]
}

/** One line of shell per step, as --dry-run prints them and failures quote them. */
export function stepLine(step: Step): string {
  if (step.kind === 'write') {
    const lines = step.content.replace(/\n$/, '').split('\n')
    return `printf '%s\\n' ${lines.map((l) => sh(l)).join(' ')} > ${commandLine([step.path])}`
  }
  const command = commandLine(step.argv)
  return step.cwd ? `cd ${commandLine([step.cwd])} && ${command}` : command
}

/** The sub-commands pot accepts in a flavour file: `_is_cmd_flavorable` in bsdpot/pot share/pot/common-flv.sh. */
export const FLAVOUR_COMMANDS = [
  'add-dep',
  'set-attribute',
  'copy-in',
  'copy-in-flv',
  'mount-in',
  'set-rss',
  'export-ports',
  'set-cmd',
  'set-env',
] as const

/**
 * Problems in a flavour file. pot skips a line it does not accept with a message, not an error, so a typo
 * would silently drop a step. It also splits each line on blanks without removing quotes and adds
 * `-p <pot>`: a value cannot hold a blank (only `set-cmd -c "..."` is special-cased), and -p is pot's.
 */
export function lintFlavour(name: string, text: string): string[] {
  const problems: string[] = []
  if (!text.endsWith('\n')) problems.push(`${name}: the last line has no newline (pot's read skips it)`)
  text
    .replace(/\n$/, '')
    .split('\n')
    .forEach((line, i) => {
      const where = `${name}:${i + 1}`
      const words = line.split(/[ \t]+/)
      const [command] = words
      if (!(FLAVOUR_COMMANDS as readonly string[]).includes(command ?? '')) {
        problems.push(`${where}: "${line}" is not a sub-command pot accepts in a flavour`)
        return
      }
      if (command === 'set-cmd') {
        if (!/^set-cmd -c "[^"]+"$/.test(line)) problems.push(`${where}: write set-cmd as: set-cmd -c "..."`)
        return
      }
      if (/["'\\]/.test(line)) problems.push(`${where}: quotes are not removed by pot; use single words`)
      if (words.includes('-p')) problems.push(`${where}: -p is added by pot; leave it out`)
      if (command === 'set-attribute' && !/^set-attribute -A \S+ -V \S+$/.test(line))
        problems.push(`${where}: write set-attribute -A NAME -V VALUE (one word)`)
    })
  return problems
}

/** Compares dotted versions numerically: 0.16.0 >= 0.16.0, 0.15.6 < 0.16.0; an unparsable version is too old. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const parse = (v: string) => v.split('.').map((n) => Number.parseInt(n, 10))
  const [a, b] = [parse(version), parse(minimum)]
  if (a.some(Number.isNaN) || a.length < 2) return false
  for (let i = 0; i < b.length; i++) {
    const x = a[i] ?? 0
    const y = b[i] ?? 0
    if (x !== y) return x > y
  }
  return true
}
