// PostgreSQL's Unix socket (#25.9). While PostgreSQL is down, whoever can create its socket file can answer
// in its place and ask each client for its password in clear text. In /tmp every local user can; the socket
// now lives in PATHS.pgSocketDir, a directory only postgres (and root) may write. Here a fake server listens
// at the old place, /tmp/.s.PGSQL.5432 of a rebased jail tree, and another at the new one; the real clients,
// configured by the cook's own files, run: none may reach the old one, each must reach the new one.
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { BACKUP_PATHS } from '../../cook/backup.js'
import { PATHS, PG_CLIENT_ENV, type Layout } from '../../cook/layout.js'
import { validate } from '../../cook/params.js'
import { plan, type Plan } from '../../cook/plan.js'
import { lookupUser } from '../../cook/users.js'
import { runAsPostgres } from '../../scripts/lib/backup.js'
import { basicEnv, tempDir } from '../helpers.js'
import { pyyaml } from '../hostile.js'
import { debianLayout } from '../pg.js'

t.setTimeout(120_000)

const params = () =>
  validate({
    ...basicEnv(),
    BACKUPREPO: '/mnt/backups',
    BACKUPCIPHERPASS: 'c'.repeat(40),
  } as Record<string, string>)

const file = (pl: Plan, path: string) => {
  const f = pl.files.find((x) => x.path === path)
  if (!f) throw new Error(`${path} is not in the plan`)
  return f
}

/** A fake PostgreSQL on a Unix socket: it asks every client for its password in clear text and keeps it. */
function fakeServer(path: string): Promise<{ clients: () => number; passwords: string[]; server: Server }> {
  const passwords: string[] = []
  let clients = 0
  const server = createServer((sock: Socket) => {
    clients++
    let buf = Buffer.alloc(0)
    let started = false
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      for (;;) {
        if (!started) {
          if (buf.length < 8) return
          const len = buf.readInt32BE(0)
          if (buf.length < len) return
          const code = buf.readInt32BE(4)
          buf = buf.subarray(len)
          if (code === 80877103)
            sock.write('N') // SSLRequest: no
          else {
            started = true
            // AuthenticationCleartextPassword
            sock.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]))
          }
          continue
        }
        if (buf.length < 5) return
        const len = buf.readInt32BE(1)
        if (buf.length < len + 1) return
        if (buf[0] === 0x70) passwords.push(buf.subarray(5, len).toString('utf8').replace(/\0$/, ''))
        buf = buf.subarray(len + 1)
        const msg = Buffer.from('SFATAL\0C28P01\0Mfake server\0\0')
        const head = Buffer.alloc(5)
        head.write('E')
        head.writeInt32BE(msg.length + 4, 1)
        sock.end(Buffer.concat([head, msg]))
      }
    })
    sock.on('error', () => {})
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      chmodSync(path, 0o777)
      resolve({ clients: () => clients, passwords, server })
    })
  })
}

t.test('the socket directory: postgres owns it, and every client is configured for it', async (t) => {
  const pl = plan(params())
  t.equal(PATHS.pgSocketDir, '/var/run/postgresql')
  t.same(
    pl.dirs.find((d) => d.path === PATHS.pgSocketDir),
    { path: PATHS.pgSocketDir, mode: 0o755, owner: 'postgres' },
    'only postgres and root can create a file there; everyone may connect (pg_hba still wants SCRAM)',
  )
  const yml = pyyaml([file(pl, PATHS.patroniYml).content])[0] as {
    postgresql: { parameters: Record<string, unknown>; use_unix_socket: boolean }
  }
  t.equal(yml.postgresql.parameters.unix_socket_directories, PATHS.pgSocketDir, 'PostgreSQL listens there')
  t.equal(yml.postgresql.use_unix_socket, true, 'and Patroni connects there (its first absolute directory)')
  t.match(file(pl, BACKUP_PATHS.conf).content, /^pg1-socket-path=\/var\/run\/postgresql$/m, 'pgBackRest')
  t.match(
    file(pl, PATHS.exporterEnv).content,
    /^DATA_SOURCE_URI='\/postgres\?host=%2Fvar%2Frun%2Fpostgresql&/m,
    'postgres_exporter',
  )
  t.same(
    file(pl, BACKUP_PATHS.pgpass)
      .content.split('\n')
      .filter(Boolean)
      .map((l) => l.split(':').slice(0, 2).join(':')),
    ['/var/run/postgresql:5432'],
    "pgBackRest's password is offered to the socket only, not to any host (*)",
  )
  for (const path of [PATHS.patroniYml, BACKUP_PATHS.conf, BACKUP_PATHS.pgpass, PATHS.exporterEnv])
    t.notMatch(file(pl, path).content, /\/tmp\b|%2Ftmp/, `${path} names no /tmp`)
  for (const path of [BACKUP_PATHS.backupScript, PATHS.postBootstrap])
    t.match(
      file(pl, path).content,
      new RegExp(`^PGREQUIREAUTH='${PG_CLIENT_ENV.PGREQUIREAUTH}'$`, 'm'),
      `${path}: its libpq clients refuse anything weaker than SCRAM (libpq 16+)`,
    )
})

t.test(
  'a fake server at the old socket path is never contacted: pgBackRest and postgres_exporter go to the new one',
  async (t) => {
    const pgUser = lookupUser('postgres')
    if (!pgUser) throw new Error('the postgres user is missing: run scripts/install-deps')
    const dir = tempDir(t, 'cook-sock-')
    chownSync(dir, pgUser.uid, pgUser.gid)
    const layout: Layout = debianLayout(join(dir, 'root'))
    const p = params()
    const pl = plan(p, layout)
    const old = join(layout.base, 'tmp')
    const now = join(layout.base, PATHS.pgSocketDir)
    for (const d of [
      old,
      now,
      join(layout.base, BACKUP_PATHS.logDir),
      join(layout.base, BACKUP_PATHS.lockDir),
    ]) {
      mkdirSync(d, { recursive: true })
      chownSync(d, pgUser.uid, pgUser.gid)
    }
    for (let d = join(dir, 'root'); d !== dir; d = join(d, '..')) chmodSync(d, 0o755)
    const oldServer = await fakeServer(join(old, '.s.PGSQL.5432'))
    // (With the socket still in /tmp, as before #25.9, both are one: the fake at the old place answers.)
    const newServer = now === old ? oldServer : await fakeServer(join(now, '.s.PGSQL.5432'))
    t.teardown(() => {
      oldServer.server.close()
      newServer.server.close()
    })
    const write = (path: string, content: string, owner = pgUser) => {
      writeFileSync(path, content, { mode: 0o600 })
      chownSync(path, owner.uid, owner.gid)
      return path
    }

    // pgBackRest, as cook-backup runs it: the rendered configuration and pgpass, as postgres.
    const conf = write(join(dir, 'pgbackrest.conf'), file(pl, BACKUP_PATHS.conf).content)
    const pgpass = write(join(dir, 'pgpass'), file(pl, BACKUP_PATHS.pgpass).content)
    const r = await runAsPostgres(
      [
        'env',
        `PGPASSFILE=${pgpass}`,
        'pgbackrest',
        `--config=${conf}`,
        '--stanza=postgresql',
        'stanza-create',
      ],
      60_000,
    )
    t.not(r.code, 0, 'stanza-create fails against the fake server')

    // postgres_exporter, with the environment file rc.subr sources and its password file; one scrape.
    const env = write(join(dir, 'exporter.env'), file(pl, PATHS.exporterEnv).content)
    mkdirSync(join(layout.base, PATHS.exporterDir), { recursive: true })
    write(join(layout.base, PATHS.exporterPass), `${p.MONPASS}\n`)
    const port = 20000 + (process.pid % 20000)
    const exporter = spawn(
      '/bin/sh',
      [
        '-c',
        'set -a; . "$1"; set +a; exec prometheus-postgres-exporter --web.listen-address="$2"',
        'sh',
        env,
        `127.0.0.1:${port}`,
      ],
      { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    )
    t.teardown(() => {
      exporter.kill('SIGKILL')
    })
    let scraped = false
    for (let i = 0; i < 50 && !scraped; i++) {
      await new Promise((res) => setTimeout(res, 200))
      // fetch, not a synchronous curl: the fake servers answer from this process's event loop.
      scraped = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
        (res) => res.ok,
        () => false,
      )
    }
    t.ok(scraped, 'the exporter answered a scrape')

    t.equal(oldServer.clients(), 0, 'nobody connected to /tmp/.s.PGSQL.5432')
    t.same(oldServer.passwords, [], 'so no password went there')
    t.ok(
      newServer.clients() >= 2,
      `pgBackRest and the exporter connected to ${PATHS.pgSocketDir} (${newServer.clients()})`,
    )
    t.ok(
      newServer.passwords.includes(p.KEKPASS) && newServer.passwords.includes(p.MONPASS),
      'each offered its password there, where only postgres could have put a server (libpq 15: no require_auth)',
    )
  },
)
