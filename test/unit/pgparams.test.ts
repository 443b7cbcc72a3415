// PGPARAMS against PostgreSQL 15 itself: its settings table (`postgres --describe-config`) for names and
// contexts, and the server's own verdict on each value; the places Patroni reads each parameter from; MEMORY.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { loadConfig } from '../../cook/config.js'
import { ParamError } from '../../cook/errors.js'
import {
  checkAgainstTable,
  DCS_ONLY,
  effectivePgParams,
  memoryDefaults,
  OWNED,
  placeOf,
  takesEffect,
  weakCiphers,
} from '../../cook/pgparams.js'
import { findServer, serverVerdicts, type PgServer } from '../../cook/pgserver.js'
import { basicEnv, FIXTURES } from '../helpers.js'
import { PG_BIN } from '../pg.js'

const found = findServer(`${PG_BIN}/postgres`, 'postgres')
if (typeof found === 'string') throw new Error(found)
const server: PgServer = found

t.test("the server's table: names, types, contexts", async (t) => {
  t.ok(server.table.size > 300, `${server.table.size} settings`)
  t.same(server.table.get('shared_buffers'), {
    name: 'shared_buffers',
    context: 'postmaster',
    vartype: 'INTEGER',
  })
  t.equal(server.table.get('work_mem')?.context, 'user')
  t.equal(server.table.get('jit')?.vartype, 'BOOLEAN')
  // Every owned or DCS-only name is a real setting of the server (a typo here would guard nothing).
  for (const name of [...Object.keys(OWNED), ...Object.keys(DCS_ONLY)])
    // config_file is only ever a command-line option: --describe-config leaves it out.
    if (name !== 'config_file') t.ok(server.table.has(name), `${name} is a PostgreSQL 15 setting`)
})

const TABLE: [string, Record<string, string>, string[]][] = [
  ['known names', { work_mem: '16MB', jit: 'off', log_line_prefix: '%m ' }, []],
  ['an unknown name', { shared_bufers: '1GB' }, ['shared_bufers']],
  ['an extension parameter is left to the server', { 'pg_stat_statements.max': '5000' }, []],
  ['a boolean that is none', { jit: 'maybe' }, ['jit']],
  ['a boolean spelled yes', { jit: 'yes' }, []],
]

t.test('checked against the table, by the names refused', async (t) => {
  for (const [title, params, names] of TABLE)
    t.same(Object.keys(checkAgainstTable(params, server.table)), names, title)
  t.match(
    checkAgainstTable({ shared_bufers: '1' }, server.table).shared_bufers,
    /did you mean shared_buffers\?/,
  )
  t.notMatch(checkAgainstTable({ zzzzzzzz: '1' }, server.table).zzzzzzzz, /did you mean/)
})

const VALUES: [string, Record<string, string>, string[]][] = [
  ['sizes with units', { shared_buffers: '2GB', work_mem: '16MB', maintenance_work_mem: '524288kB' }, []],
  ['a bad unit', { work_mem: '16XB' }, ['work_mem']],
  ['a time unit on a size', { work_mem: '16s' }, ['work_mem']],
  ['below the minimum', { shared_buffers: '64kB' }, ['shared_buffers']],
  ['an enum value', { wal_level: 'logical', log_min_messages: 'warning' }, []],
  ['an unknown enum value', { log_min_messages: 'loud' }, ['log_min_messages']],
  ['a real below its range', { random_page_cost: '-1' }, ['random_page_cost']],
  ['a time with a unit', { statement_timeout: '30s', log_min_duration_statement: '250ms' }, []],
  ['a string with spaces and quotes', { log_line_prefix: "%m [%p] it's " }, []],
  ['an extension placeholder', { 'pg_stat_statements.max': '5000' }, []],
]

t.test("the server's own verdict on each value", async (t) => {
  for (const [title, params, names] of VALUES)
    t.same(Object.keys(serverVerdicts(server, 'postgres', params)), names, title)
  t.match(
    serverVerdicts(server, 'postgres', { work_mem: '16XB' }).work_mem,
    /Valid units for this parameter are/,
  )
  t.match(
    serverVerdicts(server, 'postgres', { log_min_messages: 'loud' }).log_min_messages,
    /Available values: /,
  )
})

const env = { ...basicEnv() }
const load = (args: string[], postgresBin = `${PG_BIN}/postgres`) =>
  loadConfig({ args, env, environmentSh: '/nonexistent', postgresBin })

t.test('loadConfig: every problem at once, the schema and the server together', async (t) => {
  let error: unknown
  try {
    load(['PGPARAMS=work_mem=16XB shared_bufers=1 port=5433 jit=on', 'NODENAME=a.b'])
  } catch (e) {
    error = e
  }
  if (!(error instanceof ParamError)) throw new Error('expected a ParamError')
  const lines = error.lines()
  t.equal(lines.length, 4, lines.join('\n'))
  t.match(lines, [
    /^NODENAME:/,
    /^PGPARAMS: port cannot be set/,
    /^PGPARAMS: shared_bufers: not a parameter/,
    /^PGPARAMS: work_mem: invalid value/,
  ])
  t.equal(error.exitCode, 78)
  const good = load(["PGPARAMS=work_mem=16MB log_line_prefix='%m [%p] '"])
  t.same(good.params.PGPARAMS, { work_mem: '16MB', log_line_prefix: '%m [%p] ' })
  t.equal(good.server?.bin, `${PG_BIN}/postgres`)
})

t.test(
  'without a server (cook check on a laptop): a warning, syntax and owned names still checked',
  async (t) => {
    // basic.env runs with TLS=off, which has a warning of its own.
    const pgWarnings = (args: string[]) =>
      load(args, '/nonexistent/postgres').resolved.warnings.filter((w) => w.startsWith('PGPARAMS'))
    t.match(pgWarnings(['PGPARAMS=shared_bufers=1']), [
      /PGPARAMS: no PostgreSQL server at \/nonexistent\/postgres; checked only/,
    ])
    t.throws(() => load(['PGPARAMS=port=1'], '/nonexistent/postgres'), { code: 'PARAM_INVALID' })
    t.same(pgWarnings([]), [], 'no PGPARAMS, no warning')
  },
)

t.test('the place of a parameter: the DCS for those Patroni reads only there', async (t) => {
  for (const name of ['max_connections', 'max_locks_per_transaction', 'wal_level', 'wal_keep_size'])
    t.equal(placeOf(name), 'dcs', name)
  for (const name of ['work_mem', 'shared_buffers', 'log_line_prefix']) t.equal(placeOf(name), 'local', name)
})

t.test('MEMORY defaults', async (t) => {
  t.same(memoryDefaults(2048), {
    shared_buffers: '512MB',
    effective_cache_size: '1536MB',
    maintenance_work_mem: '128MB',
  })
  t.same(memoryDefaults(256).maintenance_work_mem, '64MB', 'never below the server default')
  t.same(memoryDefaults(65536).maintenance_work_mem, '2048MB', 'capped at 2 GB')
})

t.test('what cook check says about each parameter', async (t) => {
  const e = effectivePgParams({ work_mem: '8MB', max_connections: '200' }, 1024)
  const say = (name: string) => {
    const x = e.find((y) => y.name === name)
    if (!x) throw new Error(`${name} missing`)
    return `${x.from}; ${takesEffect(x, server.table)}`
  }
  t.match(
    say('shared_buffers'),
    /^derived from MEMORY=1024; local .* needs a restart: Patroni shows pending_restart/,
  )
  t.match(say('work_mem'), /^PGPARAMS; local .*a reload applies it$/)
  t.match(say('max_connections'), /^PGPARAMS; DCS .*patronictl edit-config.*needs a restart/)
  t.match(say('wal_keep_size'), /^cook default; DCS/)
  t.notMatch(
    takesEffect(e[0]!, undefined),
    /restart|reload applies/,
    'without a server the context is not guessed',
  )
})

t.test('cook check prints the parameters and where they take effect', async (t) => {
  const { cook, tempDir } = await import('../helpers.js')
  const { copyFileSync, chmodSync } = await import('node:fs')
  // cook reads a file that gives secrets only when it is root's alone (0600).
  const envFile = `${tempDir(t)}/basic.env`
  copyFileSync(new URL('basic.env', FIXTURES), envFile)
  chmodSync(envFile, 0o600)
  const r = await cook(['check', '--env-file', envFile, '--postgres-bin', `${PG_BIN}/postgres`], {
    MEMORY: '2048',
    PGPARAMS: 'work_mem=16MB',
  })
  t.equal(r.code, 0, r.err)
  t.match(r.out, /shared_buffers = 512MB\s+derived from MEMORY=2048; local .*needs a restart/)
  t.match(r.out, /work_mem = 16MB\s+PGPARAMS; local/)
  const bad = await cook(['check', '--env-file', envFile, '--postgres-bin', `${PG_BIN}/postgres`], {
    PGPARAMS: 'work_mem=lots',
  })
  t.equal(bad.code, 78)
  t.match(bad.err, /^PGPARAMS: work_mem: invalid value for parameter "work_mem": "lots"/)
})

/** The TLS 1.2 suites OpenSSL would offer for a cipher string (all security levels), as `openssl ciphers -v` lists them. */
function opensslSuites(ciphers: string): string[] | undefined {
  const r = spawnSync('openssl', ['ciphers', '-v', `${ciphers}:@SECLEVEL=0`], { encoding: 'utf8' })
  if (r.status !== 0) return undefined
  return r.stdout.split('\n').filter((line) => line !== '' && !/\sTLSv1\.3\s/.test(line))
}

/** A suite without authentication or encryption, or with export keys, DES, 3DES, RC4, RC2 or MD5. */
const WEAK_SUITE = /Au=None|Enc=None|Enc=(DES|3DES|RC4|RC2)|Mac=MD5|export|^EXP/i

t.test('ssl_ciphers: what cook accepts, OpenSSL never turns into a weak suite', async (t) => {
  const candidates = [
    'HIGH',
    'ALL',
    'DEFAULT',
    'HIGH:MEDIUM:+3DES:!aNULL', // PostgreSQL's default
    'HIGH:!aNULL',
    'ECDHE+AESGCM',
    'AESGCM',
    'eNULL',
    'NULL-SHA256',
    'ADH-AES256-GCM-SHA384',
    'aNULL:!eNULL',
    'ALL:COMPLEMENTOFALL',
    'HIGH:!aNULL:!eNULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5',
    'ALL:COMPLEMENTOFALL:!aNULL:!eNULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5',
    'eNULL:aNULL:!aNULL:!eNULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5',
    '!aNULL:!eNULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5:ALL:COMPLEMENTOFALL:ADH-AES256-GCM-SHA384',
    'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305',
    'ECDHE-RSA-AES256-GCM-SHA384:AECDH-AES256-SHA',
    'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-NULL-SHA',
    'ECDHE-RSA-AES256-GCM-SHA384,DHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384:+aNULL',
    'HIGH:!ANULL:!ENULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5', // OpenSSL's names are case-sensitive
  ]
  let refusedWeak = 0
  for (const ciphers of candidates) {
    const why = weakCiphers(ciphers)
    const suites = opensslSuites(ciphers)
    if (suites === undefined) {
      t.comment(`${ciphers}: OpenSSL matches no suite here (PostgreSQL would refuse to start TLS)`)
      continue
    }
    const weak = suites.filter((s) => WEAK_SUITE.test(s)).map((s) => s.split(/\s+/)[0])
    if (why === undefined)
      t.same(weak, [], `accepted ${ciphers}: OpenSSL lists no weak suite (${suites.length} suites)`)
    else if (weak.length > 0) refusedWeak++
    t.comment(
      `${why === undefined ? 'accepted' : 'refused '} ${ciphers}: ${weak.length} weak of ${suites.length}${weak.length ? ` (${weak.slice(0, 3).join(' ')} ...)` : ''}`,
    )
  }
  t.ok(refusedWeak >= 8, `refused strings for which OpenSSL lists weak suites: ${refusedWeak}`)
  t.equal(weakCiphers('HIGH'), weakCiphers('HIGH'), 'a pure function')
  t.match(weakCiphers('HIGH:!aNULL') ?? '', /without excluding !eNULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5/)
  t.match(weakCiphers('AES256-SHA:RC4-MD5') ?? '', /RC4-MD5 is a weak suite/)
})
