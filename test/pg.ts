// A throwaway PostgreSQL 15 server for tests: initdb as postgres in a temp directory, listening on one
// 127.0.0.x address and a socket in that directory; stopped and removed at teardown. Another major's server
// (test/embedded-pg.ts) runs the same way from its own bin directory; psql stays Debian's 15.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lookupUser } from '../cook/users.js'
import { debianLayout, PG_BIN, PGBACKREST_BIN } from '../scripts/lib/pg.js'
import { asUser } from '../scripts/lib/procs.js'

export { debianLayout, PG_BIN, PGBACKREST_BIN }

export interface Postgres {
  host: string
  port: number
  socketDir: string
  /** psql as the superuser over the socket (trust); the SQL arrives on stdin, never in argv. */
  sql: (script: string) => string
  /** psql over TCP with scram-sha-256; the password travels in PGPASSWORD. */
  login: (user: string, password: string, query: string, dbname?: string) => SpawnSyncReturns<string>
}

function asPostgres(cmd: string[]): SpawnSyncReturns<string> {
  const [setpriv = '', ...args] = asUser('postgres', cmd)
  return spawnSync(setpriv, args, { encoding: 'utf8' })
}

export interface StartOptions {
  /** initdb, pg_ctl and postgres of another major (test/embedded-pg.ts); Debian's 15 by default. */
  binDir?: string
  /** The address to listen on; a 127.0.0.x from the pid by default. */
  host?: string
  /** pg_hba.conf lines instead of initdb's. */
  hba?: readonly string[]
  /** ssl = on with this certificate and key (PEM files, copied for the postgres user). */
  ssl?: { cert: string; key: string }
}

export function startPostgres(t: { teardown: (fn: () => void) => void }, o: StartOptions = {}): Postgres {
  const bin = o.binDir ?? PG_BIN
  const pg = lookupUser('postgres')
  if (!pg) throw new Error('the postgres user is missing: run scripts/install-deps')
  const dir = mkdtempSync(join(tmpdir(), 'cook-pg-'))
  chownSync(dir, pg.uid, pg.gid)
  const data = join(dir, 'data')
  const host = o.host ?? `127.0.0.${2 + (process.pid % 250)}`
  const port = 20000 + (process.pid % 20000)
  const init = asPostgres([
    `${bin}/initdb`,
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ])
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  let opts = `-c listen_addresses=${host} -p ${port} -c unix_socket_directories=${dir} -c fsync=off`
  if (o.hba) writeFileSync(join(data, 'pg_hba.conf'), `${o.hba.join('\n')}\n`)
  if (o.ssl) {
    for (const [from, to] of [
      [o.ssl.cert, 'server.crt'],
      [o.ssl.key, 'server.key'],
    ] as const) {
      copyFileSync(from, join(data, to))
      chownSync(join(data, to), pg.uid, pg.gid)
    }
    opts += ' -c ssl=on'
  }
  const start = asPostgres([`${bin}/pg_ctl`, '-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start'])
  if (start.status !== 0) throw new Error(`pg_ctl start failed: ${start.stderr}${start.stdout}`)
  t.teardown(() => {
    asPostgres([`${bin}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop'])
    rmSync(dir, { recursive: true, force: true })
  })
  const psql = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At']
  return {
    host,
    port,
    socketDir: dir,
    sql: (script) => {
      const r = spawnSync(
        `${PG_BIN}/psql`,
        [...psql, '-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres'],
        {
          input: script,
          encoding: 'utf8',
          env: { PATH: process.env.PATH, PGCLIENTENCODING: 'UTF8' },
        },
      )
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`)
      return r.stdout
    },
    login: (user, password, query, dbname = 'postgres') =>
      spawnSync(
        `${PG_BIN}/psql`,
        [...psql, '-h', host, '-p', String(port), '-U', user, '-d', dbname, '-c', query],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            PGPASSWORD: password,
            PGCLIENTENCODING: 'UTF8',
            PGCONNECT_TIMEOUT: '5',
          },
        },
      ),
  }
}
