// Checked by PostgreSQL 15 itself: SCRAM verifiers (SASLprep included), SQL quoting, and the rendered
// admin-role.sql and post-bootstrap.sh, with a login as admin under every hostile password.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { JAIL_LAYOUT, PATHS } from '../../cook/layout.js'
import { apply } from '../../cook/apply.js'
import { validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { sql } from '../../cook/quote.js'
import { saslprep, scramMatches, scramVerifier } from '../../cook/secrets.js'
import { basicEnv, tempDir } from '../helpers.js'
import { HOSTILE, label, LINE_BREAKS, longEnough } from '../hostile.js'
import { PG_BIN, startPostgres } from '../pg.js'

/** Passwords where SASLprep changes the bytes, or must give up and leave them as they are. */
const SASLPREP = [
  'ﬁnance', // a ligature NFKC turns into "fi"
  'Ａｄｍｉｎ１', // fullwidth letters and digit
  'cafe\u0301', // a decomposed é, composed by NFKC
  'a\u00adb', // soft hyphen: mapped to nothing
  '\u00ad\u200d', // nothing but mapped-to-nothing characters
  'a\u200bb', // zero width space: both a non-ASCII space and mapped to nothing
  'a\u00a0b\u3000c', // non-ASCII spaces become spaces
  'Ⅸ²', // compatibility forms
  '😀ﬁ', // an emoji is unassigned in Unicode 3.2: prohibited, so the raw bytes count
  'ﬁ\u0007', // a control character: prohibited
  'ﬁ\u200e', // a left-to-right mark: prohibited (C.8)
  '\ue000ﬁ', // private use: prohibited
  'שלום', // right-to-left only: allowed
  'שלוםﬁ', // right-to-left with a left-to-right letter: prohibited
  '1שלום', // right-to-left text must start with a right-to-left character
  'שלום ﬁ\u05d0'.slice(0, 4) + '\ufb2a', // a Hebrew presentation form NFKC decomposes
  'x\u0341', // a deprecated combining mark: prohibited
  'ǅ', // title-case digraph
  '\u1100\u1161\u11a8', // conjoining Hangul jamo that NFKC composes into one syllable
]

/** admin-role.sql with its verifiers taken out: the same for every password. */
function skeleton(): string {
  const file = plan(validate(basicEnv())).files.find((f) => f.path === PATHS.adminRoleSql)
  return (file?.content ?? '').replace(/'SCRAM-SHA-256[^']+'/g, 'V')
}

const PASSWORDS = [...HOSTILE, ...LINE_BREAKS, ...SASLPREP]

t.test('PostgreSQL', async (t) => {
  const pg = startPostgres(t)

  t.test('scramVerifier computes what PostgreSQL computes, SASLprep included', async (t) => {
    const random = fc.sample(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), {
      numRuns: 40,
      seed: 42,
    })
    const passwords = [...PASSWORDS, ...random.filter((p) => !p.includes('\0'))]
    const script = passwords.map((p, i) => `CREATE ROLE sp_${i} PASSWORD ${sql(p)};\n`).join('')
    pg.sql(`SET password_encryption = 'scram-sha-256';\n${script}`)
    const stored = pg.sql("SELECT rolname || ' ' || rolpassword FROM pg_authid WHERE rolname LIKE 'sp\\_%'")
    const byRole = new Map(
      stored
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    )
    passwords.forEach((p, i) => {
      const verifier = byRole.get(`sp_${i}`) ?? ''
      const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(verifier)
      t.ok(m, `PostgreSQL stored a SCRAM verifier for ${label(p)}`)
      t.equal(scramVerifier(p, Buffer.from(m?.[2] ?? '', 'base64'), Number(m?.[1])), verifier, label(p))
    })
    t.ok(scramMatches(byRole.get('sp_0') ?? '', PASSWORDS[0] ?? ''), 'scramMatches recognises its password')
    t.notOk(scramMatches(byRole.get('sp_0') ?? '', 'wrong'), 'another password does not match')
    t.equal(saslprep('ﬁnance'), 'finance')
    t.equal(saslprep('😀ﬁ'), '😀ﬁ', 'prohibited: the raw password counts')
  })

  t.test('sql quotes every value so PostgreSQL reads it back exactly', async (t) => {
    const values = [...HOSTILE, ...LINE_BREAKS, '$cook$', "E'\\n'", '\\\\']
    const out = pg.sql(values.map((v) => `SELECT encode(convert_to(${sql(v)}, 'UTF8'), 'hex');\n`).join(''))
    t.same(
      out.trim().split('\n'),
      values.map((v) => Buffer.from(v).toString('hex')),
    )
  })

  t.test('the rendered admin-role.sql: admin logs in with every hostile password', async (t) => {
    // One of each kind; postgres-side SASLprep and quoting of all of them is checked above.
    const logins = [
      `it's "quoted"`,
      'back\\slash',
      '$cook$ {{x}} ${y} %{z}',
      'yes',
      ' both ',
      '- @!*&#:',
      'tab\there',
      'new\nline',
      'crlf\r\nend',
      'ünïcödé 日本語',
      'emoji 😀🔑',
      'nbsp\u00a0space',
      'ﬁnance',
      'Ａｄｍｉｎ１',
      'שלום',
      '😀ﬁ',
      'x\u0341',
    ]
    // ADMPASS has a minimum length: a shorter value is repeated (longEnough keeps its characters).
    for (const password of logins.map((l) => longEnough(l))) {
      const p = validate({ ...basicEnv(), ADMPASS: password })
      const file = plan(p).files.find((f) => f.path === PATHS.adminRoleSql)
      const content = file?.content ?? ''
      const verifier = /'SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}'/g
      t.equal(content.match(verifier)?.length, 2, 'the password is a verifier')
      t.equal(content.replace(verifier, 'V'), skeleton(), `nothing else in the file: ${label(password)}`)
      pg.sql(file?.content ?? '')
      const r = pg.login('admin', password, 'SELECT current_user')
      t.equal(r.stdout.trim(), 'admin', `login with ${label(password)}${r.stderr ? `: ${r.stderr}` : ''}`)
    }
    const wrong = pg.login('admin', 'not the password', 'SELECT 1')
    t.not(wrong.status, 0, 'a wrong password is refused')
    t.match(wrong.stderr, /password authentication failed/)
    const attrs = pg.sql(
      "SELECT rolcanlogin, rolcreaterole, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'admin'",
    )
    t.equal(attrs.trim(), 't|f|t|f', 'PostgreSQL 15: LOGIN CREATEDB, no CREATEROLE, not a superuser')
  })

  t.test('PostgreSQL 15: admin cannot make itself the OS user (no CREATEROLE)', async (t) => {
    const password = 'admin-pw-long-enough'
    const p = validate({ ...basicEnv(), ADMPASS: password })
    pg.sql(plan(p).files.find((f) => f.path === PATHS.adminRoleSql)?.content ?? '')
    t.equal(pg.sql('SHOW server_version_num').trim().slice(0, 2), '15', 'the server is PostgreSQL 15')
    const grant = 'GRANT pg_execute_server_program TO admin'
    const shell = "CREATE TEMP TABLE o (x text); COPY o FROM PROGRAM 'id -un'; SELECT x FROM o"
    const refused = pg.login('admin', password, grant)
    t.not(refused.status, 0, 'admin cannot grant itself pg_execute_server_program')
    t.match(refused.stderr, /must have admin option on role "pg_execute_server_program"/)
    t.match(
      pg.login('admin', password, shell).stderr,
      /permission denied|must be superuser or have privileges/,
    )
    t.equal(pg.login('admin', password, 'CREATE ROLE app_reader NOLOGIN').status, 1, 'nor create roles')
    // What the role was before: with CREATEROLE, admin grants itself the role and runs a program as postgres.
    pg.sql('ALTER ROLE admin CREATEROLE')
    t.equal(pg.login('admin', password, grant).status, 0, 'with CREATEROLE the grant works')
    t.equal(pg.login('admin', password, shell).stdout.trim(), 'postgres', 'and admin is the OS user')
    // The rendered file takes it back from a cluster that had it (with CREATEROLE from an older image).
    pg.sql('REVOKE pg_execute_server_program FROM admin')
    pg.sql(plan(p).files.find((f) => f.path === PATHS.adminRoleSql)?.content ?? '')
    t.not(pg.login('admin', password, grant).status, 0, 'the file removes CREATEROLE again')
  })

  t.test('post-bootstrap.sh, given the connection string Patroni passes as $1, creates admin', async (t) => {
    const root = tempDir(t)
    const layout = { ...JAIL_LAYOUT, base: root, pgBinDir: PG_BIN }
    const p = validate({ ...basicEnv(), ADMPASS: 'after\tbootstrap "ü"' })
    apply(plan(p, layout), { root, owners: 'record' })
    pg.sql('DROP ROLE IF EXISTS admin')
    const script = join(root, PATHS.postBootstrap)
    t.match(readFileSync(script, 'utf8'), `${PG_BIN}/psql`)
    // Patroni passes a connection string as $1 (and the superuser's password through PGPASSFILE); here the
    // script runs as root over the test server's socket, where local connections are trusted.
    const r = spawnSync(
      '/bin/sh',
      [script, `host=${pg.socketDir} port=${pg.port} user=postgres dbname=postgres`],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      },
    )
    t.equal(r.status, 0, r.stderr)
    t.equal(r.stdout + r.stderr, '', 'quiet: nothing for Patroni to log')
    t.equal(pg.login('admin', 'after\tbootstrap "ü"', 'SELECT current_user').stdout.trim(), 'admin')
  })

  t.test('post-bootstrap.sh with DBNAME: the owner creates tables in the public schema', async (t) => {
    const bootstrap = (over: Record<string, string>) => {
      const root = tempDir(t)
      const layout = { ...JAIL_LAYOUT, base: root, pgBinDir: PG_BIN }
      apply(plan(validate({ ...basicEnv(), ADMPASS: 'app-pw-long-enough', ...over }), layout), {
        root,
        owners: 'record',
      })
      const conn = `host=${pg.socketDir} port=${pg.port} user=postgres dbname=postgres`
      return spawnSync('/bin/sh', [join(root, PATHS.postBootstrap), conn], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      })
    }
    const asAdmin = (sql: string, db: string) => pg.login('admin', 'app-pw-long-enough', sql, db)
    for (const run of [1, 2]) {
      const r = bootstrap({ DBNAME: 'app' })
      t.equal(r.status, 0, `run ${run}: ${r.stderr}`)
      t.equal(r.stdout + r.stderr, '', `run ${run} is quiet`)
    }
    t.equal(pg.sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'").trim(), 'admin')
    const made = asAdmin('CREATE TABLE t (x int); INSERT INTO t VALUES (7); SELECT x FROM t', 'app')
    t.equal(made.stdout.trim(), '7', `admin creates a table in app: ${made.stderr}`)
    // The bug the issue names, as PostgreSQL 15 has it: no CREATE on the public schema of postgres.
    t.match(asAdmin('CREATE TABLE t (x int)', 'postgres').stderr, /permission denied for schema public/)

    // Another owner: LOGIN without a password, granted to admin, who acts as it and can give it a password.
    t.equal(bootstrap({ DBNAME: 'shop', DBOWNER: 'shop_owner' }).status, 0)
    t.equal(
      pg.sql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shop_owner'").trim() +
        pg.sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'").trim(),
      'tshop_owner',
    )
    t.match(
      pg.login('shop_owner', 'a-guess', 'SELECT 1', 'shop').stderr,
      /password authentication failed/,
      'no password, no login',
    )
    const owned = asAdmin(
      'SET ROLE shop_owner; CREATE TABLE items (id int); SELECT tableowner FROM pg_tables WHERE tablename = $$items$$',
      'shop',
    )
    t.equal(owned.stdout.trim(), 'shop_owner', `admin creates shop_owner's tables: ${owned.stderr}`)
    // On PostgreSQL 15 admin has no CREATEROLE: it sets the password as the role itself.
    t.equal(asAdmin("ALTER ROLE shop_owner PASSWORD 'x'", 'shop').status, 1, 'not as admin')
    const given = asAdmin("SET ROLE shop_owner; ALTER ROLE shop_owner PASSWORD 'shop-pw'", 'shop')
    t.equal(given.status, 0, `admin gives it a password, acting as it: ${given.stderr}`)
    t.equal(pg.login('shop_owner', 'shop-pw', 'SELECT current_user', 'shop').stdout.trim(), 'shop_owner')
  })
})
