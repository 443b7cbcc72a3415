// The monitoring part of the plan: the monitor role (pg_monitor, no superuser) and its password, which
// reaches postgres_exporter only through a 0600 file of the exporter's own user; the environment file that
// rc.subr sources, read back by a real sh; and `cook status` on a member where nothing answers.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PATHS } from '../../cook/layout.js'
import { ParamError } from '../../cook/errors.js'
import { SECRET_NAMES, validate, type Params } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { scramMatches } from '../../cook/secrets.js'
import { backupState } from '../../cook/backup.js'
import { backupMaxAgeS, certificateEnds, gauge, parseMetrics, type StatusReport } from '../../cook/status.js'
import { basicEnv, cook, tempDir } from '../helpers.js'
import { standIns } from '../standins.js'
import { tlsFixture } from '../tls-fixture.js'

const params = (over: Record<string, string> = {}): Params => validate({ ...basicEnv(), ...over })
const file = (p: Params, path: string) => {
  const f = plan(p).files.find((x) => x.path === path)
  if (!f) throw new Error(`${path} is not in the plan`)
  return f
}

t.test(
  'MONPASS: derived from KEKPASS by default, or given; refused when the exporter could not use it',
  async (t) => {
    const p = params()
    t.match(p.MONPASS, /^[A-Za-z0-9_-]{32}$/, 'derived, base64url')
    t.not(p.MONPASS, p.REPPASS)
    t.equal(params({ SCOPE: 'other' }).MONPASS === p.MONPASS, false, 'depends on SCOPE')
    t.equal(params({ MONPASS: 'mon pass, long enough' }).MONPASS, 'mon pass, long enough')
    for (const bad of [' lead', 'trail ', 'two\nlines']) {
      let problems: { name: string; message: string }[] = []
      try {
        params({ MONPASS: bad })
      } catch (e) {
        if (e instanceof ParamError) problems = e.problems
      }
      t.same(
        problems.map((x) => x.name),
        ['MONPASS'],
        `${JSON.stringify(bad)} is refused under MONPASS`,
      )
      t.notOk(problems[0]?.message.includes(bad), 'the value is not shown')
    }
  },
)

t.test(
  'the monitor role: LOGIN and pg_monitor, no superuser, its password as a SCRAM verifier',
  async (t) => {
    const p = params({ MONPASS: 'm0n-Secret-long-enough' })
    const sql = file(p, PATHS.monitorRoleSql)
    t.equal(sql.mode, 0o600)
    t.notMatch(sql.content, /m0n-Secret-long-enough/, 'never the password itself')
    const verifiers = [...sql.content.matchAll(/PASSWORD '([^']+)'/g)].map((m) => m[1] ?? '')
    t.equal(verifiers.length, 2)
    for (const v of verifiers) t.ok(scramMatches(v, 'm0n-Secret-long-enough'), 'the verifier proves MONPASS')
    t.match(sql.content, /CREATE ROLE monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION/)
    t.match(sql.content, /^ {4}GRANT pg_monitor TO monitor;$/m)
    t.match(file(p, PATHS.postBootstrap).content, /-f '\/usr\/local\/etc\/patroni\/monitor-role\.sql'/)
  },
)

t.test('the exporter gets its password only from a 0600 file of its own user', async (t) => {
  const p = params({ MONPASS: 'm0n-Secret-long-enough' })
  const pass = file(p, PATHS.exporterPass)
  t.same([pass.content, pass.mode, pass.owner], ['m0n-Secret-long-enough\n', 0o600, 'pgmonitor'])
  const pl = plan(p)
  const secrets = SECRET_NAMES.map((n) => p[n]).filter((v): v is string => typeof v === 'string')
  for (const f of pl.files.filter((x) => (x.mode & 0o004) !== 0))
    t.notOk(
      secrets.some((s) => f.content.includes(s)),
      `${f.path} (mode ${f.mode.toString(8)}) holds no secret`,
    )
  t.notOk(
    Object.values(pl.rcConf).some((v) => secrets.some((s) => v.includes(s))),
    'no secret in rc.conf',
  )
  t.equal(pl.rcConf.postgres_exporter_env_file, PATHS.exporterEnv)
})

t.test(
  'the environment file, as sh sources it, points the exporter at the socket, the role and the file',
  async (t) => {
    const dir = tempDir(t)
    const env = join(dir, 'env')
    writeFileSync(env, file(params(), PATHS.exporterEnv).content)
    const r = spawnSync(
      '/bin/sh',
      ['-c', `DATA_SOURCE_NAME=inherited; set -a; . "$1"; set +a; env`, 'sh', env],
      {
        encoding: 'utf8',
        env: {},
      },
    )
    t.equal(r.status, 0, r.stderr)
    const vars = Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('DATA_SOURCE_'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
    t.same(vars, {
      DATA_SOURCE_NAME: '',
      DATA_SOURCE_URI: `/postgres?host=${encodeURIComponent(PATHS.pgSocketDir)}&port=5432&sslmode=disable`,
      DATA_SOURCE_USER: 'monitor',
      DATA_SOURCE_PASS_FILE: PATHS.exporterPass,
    })
  },
)

t.test('parseMetrics reads the gauges of a Prometheus text exposition', async (t) => {
  const m = parseMetrics(
    '# HELP pg_up x\n# TYPE pg_up gauge\npg_up 1\npg_stat_archiver_last_archive_age NaN\nx{a="b c"} 2.5e3\n',
  )
  t.equal(m.get('pg_up'), 1)
  t.ok(Number.isNaN(m.get('pg_stat_archiver_last_archive_age')))
  t.equal(m.get('x{a="b c"}'), 2500)
  t.equal(gauge(m, 'x'), 2500, 'a metric whatever its labels')
  t.equal(gauge(m, 'pg_up'), 1)
  t.equal(gauge(m, 'pg'), undefined, 'a name, not a prefix')
})

t.test('cook status where nothing answers: exit 2, every reason named, no secret printed', async (t) => {
  const root = tempDir(t)
  const env = {
    ...basicEnv(),
    MYIP: '127.0.0.1',
    DCS: 'etcd',
    // A port nothing listens on: the DCS does not answer.
    ETCDHOSTS: '127.0.0.1:9',
    MONPASS: 'm0n-Secret-long-enough',
  }
  const json = await cook(['status', '--json', '--dev-allow-loopback', '--root', root], env)
  t.equal(json.code, 2, json.err)
  const r = JSON.parse(json.out) as StatusReport
  t.equal(r.health, 'critical')
  t.equal(r.exitCode, 2)
  t.same(
    r.services.map((s) => [s.name, s.up]),
    [
      ['patroni', false],
      ['node_exporter', false],
      ['postgres_exporter', false],
    ],
  )
  t.equal(r.params.seasoned, false)
  t.equal(r.patroni, null)
  t.equal(r.dcs.reachable, false)
  t.same(r.cluster, [])
  const reasons = r.reasons.map((x) => `${x.level}: ${x.message}`).join('\n')
  t.match(reasons, /critical: patroni does not answer at http:\/\/127\.0\.0\.1:8008\/liveness/)
  t.match(reasons, /critical: the DCS does not answer/)
  t.match(reasons, /warning: the jail is not seasoned/)
  const text = await cook(['status', '--dev-allow-loopback', '--root', root], env)
  t.equal(text.code, 2)
  t.match(text.out, /^member pg1 of cluster postgresql \(127\.0\.0\.1, DCS etcd\): CRITICAL$/m)
  t.match(text.out, /^services {4}patroni DOWN, node_exporter DOWN, postgres_exporter DOWN$/m)
  for (const out of [json.out, text.out, json.err, text.err])
    for (const secret of [
      'kek-Secret-2-basic-env',
      'admin-Secret-1-basic',
      'm0n-Secret-long-enough',
      params().REPPASS,
    ])
      t.notOk(out.includes(secret), 'no secret in the output')
})

t.test(
  'backupState: the newest backup and archived WAL of the stanza from pgbackrest info JSON',
  async (t) => {
    // The shape of `pgbackrest --output=json info` (pgBackRest 2.45), two stanzas, backups in label order.
    const json = JSON.stringify([
      {
        name: 'other',
        status: { code: 0, message: 'ok' },
        backup: [{ type: 'full', timestamp: { start: 1, stop: 9 } }],
      },
      {
        name: 'postgresql',
        status: { code: 0, message: 'ok' },
        archive: [{ id: '15-1', min: '000000010000000000000001', max: '000000020000000000000007' }],
        backup: [
          { type: 'full', timestamp: { start: 1_800_000_000, stop: 1_800_000_100 } },
          { type: 'diff', timestamp: { start: 1_800_086_400, stop: 1_800_086_460 } },
        ],
      },
    ])
    const s = backupState(json, 'postgresql', 1_800_090_060_000)
    t.same(s, {
      status: 'ok',
      lastBackup: { type: 'diff', stop: new Date(1_800_086_460_000).toISOString(), ageS: 3600 },
      walMax: '000000020000000000000007',
    })
    const empty = backupState(
      JSON.stringify([
        { name: 'postgresql', status: { code: 2, message: 'no valid backups' }, backup: [], archive: [] },
      ]),
      'postgresql',
    )
    t.same(empty, { status: 'no valid backups', lastBackup: null, walMax: null })
    t.equal(backupState('[]', 'postgresql').status, 'no stanza postgresql')
    t.equal(
      backupMaxAgeS(params({ BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'k'.repeat(40) })),
      2 * 86400,
      'daily differential backups',
    )
    t.equal(
      backupMaxAgeS(
        params({ BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'k'.repeat(40), BACKUPDIFF: 'off' }),
      ),
      8 * 86400,
      'weekly full only',
    )
  },
)

t.test('certificateEnds: the days TLSCERT and TLSCA have left, never their PEM', async (t) => {
  const tls = tlsFixture(t)
  const short = tls.issue('pg1', { ips: ['10.0.0.11'], dns: ['pg1'], days: 5 })
  const p = params({
    TLS: 'on',
    TLSCA: readFileSync(tls.ca.cert, 'utf8'),
    TLSCERT: readFileSync(short.cert, 'utf8'),
    TLSKEY: readFileSync(short.key, 'utf8'),
  })
  const now = new Date()
  const ends = certificateEnds(p, now)
  t.same(
    ends.map((e) => [e.param, e.subject, e.daysLeft]),
    [
      ['TLSCERT', 'CN=pg1', 4],
      ['TLSCA', 'CN=dev-ca', 29],
    ],
  )
  const later = new Date(now.getTime() + 6 * 86_400_000)
  t.ok((certificateEnds(p, later)[0]?.daysLeft ?? 0) < 0, 'six days on, the member certificate has expired')
})

t.test('cook status: certificate ends and the repository, read as postgres through su', async (t) => {
  const root = tempDir(t)
  const s = standIns(root)
  const tls = tlsFixture(t)
  const short = tls.issue('pg1', { ips: ['127.0.0.1'], dns: ['pg1'], days: 5 })
  const env = {
    ...s.env,
    ...basicEnv(),
    MYIP: '127.0.0.1',
    DCS: 'etcd',
    ETCDHOSTS: '127.0.0.1:9',
    TLS: 'on',
    TLSCA: readFileSync(tls.ca.cert, 'utf8'),
    TLSCERT: readFileSync(short.cert, 'utf8'),
    TLSKEY: readFileSync(short.key, 'utf8'),
    BACKUPREPO: '/mnt/backups',
    BACKUPCIPHERPASS: 'k'.repeat(40),
  }
  const json = await cook(['status', '--json', '--dev-allow-loopback', '--root', root], env)
  const r = JSON.parse(json.out) as StatusReport
  const reasons = r.reasons.map((x) => `${x.level}: ${x.message}`).join('\n')
  t.match(
    reasons,
    /critical: patroni does not answer at https:\/\/127\.0\.0\.1:8008\/liveness/,
    'HTTPS with TLS',
  )
  t.match(reasons, /warning: TLSCERT CN=pg1 expires on \d{4}-\d\d-\d\d \(4 days left\): rotate it/)
  t.notMatch(reasons, /TLSCA/, 'the CA has 29 days left: no reason')
  t.same(
    r.certificates?.map((c) => c.param),
    ['TLSCERT', 'TLSCA'],
  )
  // The su stand-in answers nothing: the repository's state is unreadable, which is a warning.
  t.equal(r.backups?.lastBackup, null)
  t.match(reasons, /warning: the backup repository cannot be read/)
  if (process.getuid?.() === 0)
    t.same(s.callsOf('su'), [`su -m postgres -c ${root}/usr/local/libexec/cook-backup info`])
  const text = await cook(['status', '--dev-allow-loopback', '--root', root], env)
  t.match(text.out, /^tls {9}TLSCERT until \d{4}-\d\d-\d\d \(4 days\), TLSCA until /m)
  t.match(text.out, /^backups {5}none \(/m)
  for (const out of [json.out, text.out, json.err, text.err]) {
    t.notOk(out.includes('PRIVATE KEY'), 'no key')
    t.notOk(out.includes('BEGIN CERTIFICATE'), 'no PEM')
  }
})
