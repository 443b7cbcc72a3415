// A sealed PATH for everything a unit test lets the cook run: only directories this harness made, one of
// stand-ins (test/standins.ts) and one of links to the tools a test names. The guard refuses any other
// PATH before the cook runs: on this Debian machine `service` is the real one, and a `cook stop` that found
// it would stop the machine's own Patroni (issue 21). An unset PATH is refused too: /bin/sh then searches
// its built-in default, /usr/sbin among it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, isAbsolute, join } from 'node:path'

/** FreeBSD's commands and this machine's service managers: a test may meet them only as stand-ins. */
export const FORBIDDEN = [
  'service',
  'sysrc',
  'consul',
  'pot',
  'pw',
  'pkg',
  'daemon',
  'jail',
  'jexec',
  'jls',
  'su',
  'nomad',
  'patronictl',
  'node_exporter',
  'systemctl',
  'invoke-rc.d',
  'shutdown',
  'reboot',
] as const

/** The file that marks a directory as made by this harness, and what kind it is. */
const MARK = '.sealed-path'
type Kind = 'standins' | 'tools'

export class Refused extends Error {
  override name = 'Refused'
}

/** Marks a directory of stand-ins (the only place a FORBIDDEN name may be found). */
export function markStandIns(dir: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, MARK), 'standins\n')
}

/** Where `name` is on the machine's own PATH (the test process's). */
export function onMachinePath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter))
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name)
  return undefined
}

/** A directory of links to named tools of this machine; a FORBIDDEN name is refused. */
export function toolsDir(dir: string, tools: readonly string[]): string {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, MARK), 'tools\n')
  for (const name of tools) {
    if ((FORBIDDEN as readonly string[]).includes(name))
      throw new Refused(`refused: ${name} is a FreeBSD or system command; give it a stand-in instead`)
    const real = onMachinePath(name)
    if (!real) throw new Error(`${name}: not on this machine's PATH (scripts/install-deps)`)
    if (!existsSync(join(dir, name))) symlinkSync(real, join(dir, name))
  }
  return dir
}

function kindOf(dir: string): Kind | undefined {
  try {
    const kind = readFileSync(join(dir, MARK), 'utf8').trim()
    return kind === 'standins' || kind === 'tools' ? kind : undefined
  } catch {
    return undefined
  }
}

/**
 * The guard: throws Refused unless PATH is set and every entry is a directory this harness made, with
 * FORBIDDEN names only among the stand-ins. Call it before anything runs with `env`.
 */
export function assertSealed(env: Record<string, string | undefined>): void {
  const path = env.PATH
  if (path === undefined || path === '')
    throw new Refused('refused: no PATH, so /bin/sh would search its default one (/usr/sbin/service...)')
  const dirs = path.split(delimiter)
  // What this PATH would run for real: the first FORBIDDEN command outside the stand-ins.
  const reached = dirs
    .filter((dir) => dir !== '' && kindOf(dir) !== 'standins')
    .flatMap((dir) => FORBIDDEN.map((name) => join(dir, name)))
    .find((file) => existsSync(file))
  const foreign = dirs.find((dir) => !isAbsolute(dir) || !kindOf(dir))
  if (foreign !== undefined)
    throw new Refused(
      `refused: PATH entry "${foreign}" is not a sealed directory of test/sealed.ts` +
        (reached ? `; on this PATH a test would run the real ${reached}` : ''),
    )
  if (reached) throw new Refused(`refused: ${reached} links a real command`)
}

/** The environment of a sealed run: the given variables, PATH = the given sealed directories. */
export function sealedEnv(
  dirs: string[],
  env: Record<string, string | undefined> = process.env,
): Record<string, string | undefined> {
  const sealed = { ...env, PATH: dirs.join(delimiter) }
  assertSealed(sealed)
  return sealed
}

let empty: string | undefined
/** A sealed PATH with nothing on it: as in a jail whose packages are gone. One per test process. */
export function emptySealedPath(): string {
  if (!empty) {
    const dir = mkdtempSync(join(tmpdir(), 'cook-sealed-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    empty = toolsDir(dir, [])
  }
  return empty
}
