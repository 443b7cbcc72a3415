// The exporters' web configs (--web.config.file): read back by promtool's own checker, the bcrypt hash
// proves METRICSPASS and nothing else is in the file, each exporter has its own copy of the member's key;
// and the real exporters (Debian's node_exporter 1.5 and postgres_exporter 0.11) started with them admit
// Prometheus over HTTPS and refuse a request without the password, with a wrong one, or in plain HTTP.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import t from 'tap'
import { parse } from 'yaml'
import { apply } from '../../cook/apply.js'
import { ParamError } from '../../cook/errors.js'
import { metricsAuthHeader, nodeExporterUrl } from '../../cook/exporter-web.js'
import { httpCall } from '../../cook/https.js'
import { JAIL_LAYOUT, PATHS } from '../../cook/layout.js'
import { exporterUrl } from '../../cook/monitoring.js'
import { validate, type Params } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { poll } from '../../cook/wait.js'
import { issue, makeCa } from '../../scripts/lib/certs.js'
import { NODE_EXPORTER_BIN, PG_EXPORTER_BIN } from '../../scripts/lib/cluster-files.js'
import { freeBlock } from '../../scripts/lib/netblock.js'
import { basicEnv, tempDir } from '../helpers.js'

const PASS = 'scrape me, 1 2 3'

function certs(t: Parameters<typeof tempDir>[0], ip: string) {
  const ca = makeCa(join(tempDir(t, 'exporter-ca-'), 'ca'))
  const member = issue(ca, 'pg1', { ips: [ip] })
  const pem = (path: string) => readFileSync(path, 'utf8')
  return { ca: pem(ca.cert), cert: pem(member.cert), key: pem(member.key) }
}

function params(ip: string, c: ReturnType<typeof certs>, over: Record<string, string> = {}): Params {
  return validate(
    {
      ...basicEnv(),
      MYIP: ip,
      TLS: 'on',
      TLSCA: c.ca,
      TLSCERT: c.cert,
      TLSKEY: c.key,
      METRICSPASS: PASS,
      ...over,
    },
    { allowLoopback: ip.startsWith('127.') },
  )
}

t.test('web configs: what promtool accepts, only the hash, each exporter its own files', async (t) => {
  const c = certs(t, '10.0.0.11')
  const p = params('10.0.0.11', c)
  const pl = plan(p)
  const f = (path: string) => pl.files.find((x) => x.path === path)
  for (const [web, cert, key, owner] of [
    [PATHS.nodeExporterWeb, PATHS.nodeExporterCert, PATHS.nodeExporterKey, 'nodeexport'],
    [PATHS.exporterWeb, PATHS.exporterCert, PATHS.exporterKey, 'pgmonitor'],
  ] as const) {
    t.match(f(web), { mode: 0o600, owner }, `${web}: 0600, only ${owner}`)
    t.match(f(cert), { mode: 0o640, owner, content: c.cert })
    t.match(f(key), { mode: 0o600, owner, content: c.key, secret: true })
    const text = f(web)?.content ?? ''
    t.notOk(text.includes(PASS), 'never the password')
    const doc = parse(text) as {
      tls_server_config: Record<string, string>
      basic_auth_users: Record<string, string>
    }
    t.same(doc.tls_server_config, { cert_file: cert, key_file: key, min_version: 'TLS12' })
    t.same(Object.keys(doc.basic_auth_users), ['prometheus'], 'one user')
    t.ok(bcrypt.compareSync(PASS, doc.basic_auth_users.prometheus ?? ''), 'the hash proves METRICSPASS')
    t.notOk(bcrypt.compareSync(`${PASS}x`, doc.basic_auth_users.prometheus ?? ''), 'and nothing else')
    t.equal(bcrypt.getRounds(doc.basic_auth_users.prometheus ?? ''), 10)
    // promtool's checker loads the certificate and key the file names.
    const dir = tempDir(t, 'web-config-')
    writeFileSync(join(dir, 'member.crt'), c.cert)
    writeFileSync(join(dir, 'member.key'), c.key, { mode: 0o600 })
    const local = text.replace(cert, join(dir, 'member.crt')).replace(key, join(dir, 'member.key'))
    writeFileSync(join(dir, 'web.yml'), local)
    const r = spawnSync('promtool', ['check', 'web-config', join(dir, 'web.yml')], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stdout + r.stderr)
  }
  t.equal(
    plan(p).files.find((x) => x.path === PATHS.exporterWeb)?.content,
    f(PATHS.exporterWeb)?.content,
    'a second plan renders the same file (nothing restarts)',
  )
  // The salt comes from the member's key, not from the password: another key, another salt.
  const other = certs(t, '10.0.0.11')
  const hashOf = (q: Params) =>
    (
      parse(plan(q).files.find((x) => x.path === PATHS.exporterWeb)?.content ?? '') as {
        basic_auth_users: { prometheus: string }
      }
    ).basic_auth_users.prometheus
  t.not(bcrypt.getSalt(hashOf(params('10.0.0.11', other))), bcrypt.getSalt(hashOf(p)))
  // TLS=off: basic auth alone, no certificate copies.
  const off = plan(validate({ ...basicEnv(), METRICSPASS: PASS }))
  const offWeb = parse(off.files.find((x) => x.path === PATHS.nodeExporterWeb)?.content ?? '') as object
  t.notOk('tls_server_config' in offWeb)
  t.notOk(off.files.some((x) => x.path === PATHS.nodeExporterKey || x.path === PATHS.exporterKey))
})

t.test('METRICSPASS: derived by default, refused where Prometheus or bcrypt would change it', async (t) => {
  const p = validate(basicEnv())
  t.match(p.METRICSPASS, /^[A-Za-z0-9_-]{32}$/)
  t.not(p.METRICSPASS, p.MONPASS)
  for (const bad of [' lead', 'trail ', 'two\nlines', 'x'.repeat(73)]) {
    let names: string[] = []
    try {
      validate({ ...basicEnv(), METRICSPASS: bad })
    } catch (e) {
      if (e instanceof ParamError) names = e.problems.map((x) => x.name)
    }
    t.same(names, ['METRICSPASS'], `${JSON.stringify(bad)} is refused under METRICSPASS`)
  }
})

const spawned: ChildProcess[] = []
t.teardown(() => {
  for (const proc of spawned) proc.kill('SIGKILL')
})

t.test(
  'the real exporters admit Prometheus over HTTPS and refuse everything else',
  { skip: !existsSync(NODE_EXPORTER_BIN) || !existsSync(PG_EXPORTER_BIN) ? 'no Debian exporters' : false },
  async (t) => {
    const ip = `${await freeBlock('127.85', 1)}.11`
    const c = certs(t, ip)
    const p = params(ip, c)
    const root = tempDir(t, 'exporter-web-')
    const layout = { ...JAIL_LAYOUT, base: root }
    const pl = plan(p, layout)
    apply(pl, { root, owners: 'record' })
    const rc = pl.rcConf
    const start = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      const proc = spawn(argv[0] ?? '', argv.slice(1), {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...env, PATH: '/usr/bin:/bin' },
      })
      let err = ''
      proc.stderr?.on('data', (d: Buffer) => (err += d.toString()))
      spawned.push(proc)
      return () => err
    }
    // The arguments the rc scripts build from rc.conf (node_exporter_args holds the --web.config.file).
    const nodeErr = start([
      NODE_EXPORTER_BIN,
      `--web.listen-address=${rc.node_exporter_listen_address}`,
      rc.node_exporter_args ?? '',
      '--collector.disable-defaults',
      '--collector.loadavg',
    ])
    const pgErr = start(
      [
        PG_EXPORTER_BIN,
        `--web.listen-address=${rc.postgres_exporter_listen_address}`,
        `--web.config.file=${rc.postgres_exporter_web_config}`,
      ],
      { DATA_SOURCE_NAME: 'host=/nonexistent sslmode=disable user=monitor' },
    )
    const tls = { ca: c.ca }
    for (const [what, url, metric, err] of [
      ['node_exporter', `${nodeExporterUrl(p)}/metrics`, 'node_load1', nodeErr],
      ['postgres_exporter', `${exporterUrl(p)}/metrics`, 'pg_up', pgErr],
    ] as const) {
      const up = await poll(
        async () => {
          const r = await httpCall(url, { tls, headers: metricsAuthHeader(p) }).catch(() => undefined)
          return r?.status === 200 ? r : undefined
        },
        { timeoutMs: 20000, intervalMs: 200 },
      )
      t.ok(up.ok, `${what} answers Prometheus over HTTPS`)
      if (!up.ok) t.comment(err())
      t.match(up.ok ? up.value.text : '', new RegExp(`^${metric}`, 'm'))
      t.match(url, /^https:/)
      const none = await httpCall(url, { tls })
      t.equal(none.status, 401, `${what}: no password, no metrics`)
      t.notMatch(none.text, new RegExp(metric))
      const wrong = await httpCall(url, {
        tls,
        headers: { authorization: `Basic ${Buffer.from('prometheus:guess').toString('base64')}` },
      })
      t.equal(wrong.status, 401, `${what}: a wrong password, no metrics`)
      const plain = await httpCall(url.replace(/^https:/, 'http:'), { headers: metricsAuthHeader(p) })
      t.equal(plain.status, 400, `${what}: plain HTTP is refused`)
      t.notMatch(plain.text, new RegExp(metric))
    }
  },
)
