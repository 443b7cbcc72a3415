// Asks the installed PostgreSQL server about PGPARAMS: its table of settings (`postgres --describe-config`)
// and its own verdict on each value. The server parses `-c name=value` (units, ranges, enum values) before it
// looks at its data directory, so `postgres -D <a path that does not exist> -c name=value -C name` fails with
// the server's FATAL message for a bad value, and with "could not access directory" for a good one. Nothing is
// written and no server starts. PostgreSQL refuses to run as root, so as root it runs as the postgres user.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { parseDescribeConfig, type SettingsTable } from './pgparams.js'
import { lookupUser } from './users.js'

export interface PgServer {
  bin: string
  table: SettingsTable
}

const NO_DATA_DIR = '/nonexistent/cook-checks-parameters-only'

function run(
  bin: string,
  user: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const account = process.getuid?.() === 0 ? lookupUser(user) : undefined
  if (process.getuid?.() === 0 && !account) throw new Error(`no user ${user} to run ${bin} as`)
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    timeout: 10000,
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    // The server resolves its own path from the working directory, which the postgres user must be able to read.
    cwd: '/',
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
  })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** The server at `bin` with its settings table, or why there is none (e.g. `cook check` on a laptop). */
export function findServer(bin: string, user: string): PgServer | string {
  if (!existsSync(bin)) return `no PostgreSQL server at ${bin}`
  try {
    const r = run(bin, user, ['--describe-config'])
    const table = parseDescribeConfig(r.stdout)
    if (r.status !== 0 || table.size === 0) return `${bin} --describe-config failed: ${r.stderr.trim()}`
    return { bin, table }
  } catch (e) {
    return `${bin} could not run: ${(e as Error).message}`
  }
}

/** The server's own message for each value it refuses, by parameter name. */
export function serverVerdicts(
  server: PgServer,
  user: string,
  params: Record<string, string>,
): Record<string, string> {
  const refused: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) {
    const r = run(server.bin, user, ['-D', NO_DATA_DIR, '-c', `${name}=${value}`, '-C', name])
    if (/could not access directory/.test(r.stderr)) continue
    // "... FATAL:  invalid value for parameter "x": "y"" and its HINT, without the log prefix.
    const lines = r.stderr
      .split('\n')
      .map((l) => /(?:FATAL|ERROR|HINT):\s+(.*)$/.exec(l)?.[1])
      .filter((l): l is string => l !== undefined)
    refused[name] = lines.length > 0 ? lines.join(' ') : `the server refused it: ${r.stderr.trim()}`
  }
  return refused
}
