// Real queries with PostgreSQL's own psql. Passwords reach it through a 0600 pgpass file, never argv.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { promisify } from 'node:util'
import type { Layout } from '../../cook/layout.js'
import { pgpass as pgpassField } from '../../cook/quote.js'

export const PG_BIN = '/usr/lib/postgresql/15/bin'
/** Debian's pgBackRest (FreeBSD's package installs /usr/local/bin/pgbackrest). */
export const PGBACKREST_BIN = '/usr/bin/pgbackrest'

/** The jail's paths rebased under `base`, with Debian's programs and users (the dev cluster, the tests). */
export function debianLayout(base: string): Layout {
  return {
    base,
    pgBinDir: PG_BIN,
    pgbackrestBin: PGBACKREST_BIN,
    pgUser: 'postgres',
    consulUser: 'consul',
    // The user Debian's prometheus-postgres-exporter package creates.
    exporterUser: 'prometheus',
    // Debian's prometheus-node-exporter runs as prometheus too.
    nodeExporterUser: 'prometheus',
  }
}

const run = promisify(execFile)

export interface Conn {
  host: string
  port: number
  user: string
  dbname?: string
}

/** Writes a pgpass file (mode 0600) that gives every host the password of each user. */
export function writePgpass(path: string, passwords: Record<string, string>): void {
  const lines = Object.entries(passwords).map(([user, pw]) => `*:*:*:${pgpassField(user)}:${pgpassField(pw)}`)
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 })
}

export interface QueryOptions {
  pgpass: string
  /** Seconds libpq waits for the connection. */
  connectTimeout?: number
  /** Milliseconds the whole psql run may take. */
  timeout?: number
  /** libpq's sslmode (PGSSLMODE) and the CA it verifies the server with (PGSSLROOTCERT). */
  ssl?: { mode: string; rootcert?: string | undefined } | undefined
}

/** The libpq environment for `ssl`. */
export function sslEnv(ssl: QueryOptions['ssl']): Record<string, string> {
  if (!ssl) return {}
  return { PGSSLMODE: ssl.mode, ...(ssl.rootcert ? { PGSSLROOTCERT: ssl.rootcert } : {}) }
}

/**
 * Runs SQL and returns the rows, each a list of fields. Rejects with psql's stderr when the connection or
 * the statement fails.
 */
export async function query(conn: Conn, sql: string, opts: QueryOptions): Promise<string[][]> {
  const args = ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-w']
  args.push(
    '-h',
    conn.host,
    '-p',
    String(conn.port),
    '-U',
    conn.user,
    '-d',
    conn.dbname ?? 'postgres',
    '-c',
    sql,
  )
  try {
    const { stdout } = await run(`${PG_BIN}/psql`, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGPASSFILE: opts.pgpass,
        PGCONNECT_TIMEOUT: String(opts.connectTimeout ?? 3),
        PGAPPNAME: 'dev-cluster',
        ...sslEnv(opts.ssl),
      },
      timeout: opts.timeout ?? 15000,
    })
    return stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'))
  } catch (e) {
    const err = e as { stderr?: string; message: string }
    throw new Error(
      `psql ${conn.user}@${conn.host}:${conn.port}: ${(err.stderr ?? '').trim() || err.message}`,
      { cause: e },
    )
  }
}
