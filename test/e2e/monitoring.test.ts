// Monitoring on a live cluster: each member's postgres_exporter logs in as the monitor role (pg_monitor,
// no superuser) with the password file the cook wrote; a real Prometheus scrapes Patroni's /metrics, the
// exporters and node_exporter and evaluates the shipped alert rules (only `for:` shortened). `cook status`
// reads the leader, a replica and a killed member over HTTPS (TLS on, the default), with the last backup
// and the certificates' ends; the killed leader makes PatroniMemberDown pending, then firing, and the alert
// resolves once the member has rejoined.
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import type { StatusReport } from '../../cook/status.js'
import { metricsAuthHeader, nodeExporterUrl } from '../../cook/exporter-web.js'
import { httpCall } from '../../cook/https.js'
import { exporterUrl } from '../../cook/monitoring.js'
import { patroniUrl } from '../../cook/probes.js'
import { backupScript } from '../../scripts/lib/backup.js'
import type { Member } from '../../scripts/lib/cluster.js'
import { activeAlerts, instantQuery, startPrometheus } from '../../scripts/lib/prometheus.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { cook, tempDir } from '../helpers.js'
import { realSuPath } from '../standins.js'
import { since, startCluster } from './setup.js'

/** The member's parameters as given, the text the cook reads (as environment, never argv). */
const rawOf = (m: Member) =>
  Object.fromEntries(Object.entries(m.raw).filter((e): e is [string, string] => e[1] !== undefined))

/** A PATH on which `cook status` finds su, to read the backup repository as postgres as in the jail. */
let suPath = ''

async function status(m: Member, extra: Record<string, string> = {}) {
  const env = { ...rawOf(m), PATH: suPath, ...extra }
  const r = await cook(['status', '--json', '--dev-allow-loopback', '--root', m.root], env)
  const text = await cook(['status', '--dev-allow-loopback', '--root', m.root], env)
  const secrets = [
    m.params.KEKPASS,
    m.params.ADMPASS,
    m.params.REPPASS,
    m.params.REWINDPASS,
    m.params.MONPASS,
    m.params.RESTPASS,
    ...(m.params.TLSKEY ? [m.params.TLSKEY.split('\n')[1] ?? m.params.TLSKEY] : []),
  ]
  return {
    code: r.code,
    report: JSON.parse(r.out) as StatusReport,
    text: text.out,
    textCode: text.code,
    leaks: secrets.filter((s) => [r.out, r.err, text.out, text.err].some((o) => o.includes(s))),
  }
}

t.test('monitoring: exporters, Prometheus alerts on a killed leader, cook status', async (t) => {
  const c = await startCluster(t, {
    scope: 'e2e-monitoring',
    block: '127.49',
    exporters: true,
    backups: true,
  })
  t.ok(c.tls, 'the cluster runs TLS: Patroni /metrics is HTTPS')
  suPath = realSuPath(join(tempDir(t, 'cook-su-'), 'bin'))
  const { leader: old, replicas } = await c.waitFormed()
  const replica = replicas[0]
  if (!replica) throw new Error('no replica')
  const full = await backupScript(old, 'full')
  t.equal(full.code, 0, full.stderr)

  const [role] = await c.query(
    c.memberConn(old),
    "SELECT rolsuper, pg_has_role('monitor', 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = 'monitor'",
  )
  t.same(role, ['f', 't'], 'post_bootstrap created the monitor role: pg_monitor, not a superuser')

  const t0 = Date.now()
  const prom = await startPrometheus(c, {
    listen: `${c.opts.net}.10:9090`,
    interval: '1s',
    durations: { PatroniMemberDown: '4s' },
  })
  const sum = async (q: string) => (await instantQuery(prom.url, q)).reduce((a, r) => a + r.value, 0)
  await waitFor(
    'Prometheus to scrape every target and each exporter to log in',
    async () => (await sum('up')) === 9 && (await sum('pg_up')) === 3 && (await sum('patroni_primary')) === 1,
    { timeout: 60000, interval: 500 },
  )
  t.comment(`Prometheus scrapes 9 targets (patroni, postgres, node x 3) ${since(t0)} after its start`)
  // Prometheus got in with METRICSPASS over HTTPS (the job's basic_auth and CA); nobody else gets in.
  for (const m of c.members) {
    for (const url of [`${exporterUrl(m.params)}/metrics`, `${nodeExporterUrl(m.params)}/metrics`]) {
      t.match(url, /^https:/)
      t.equal((await httpCall(url, { tls: c.tls?.client })).status, 401, `${url}: no password, no metrics`)
      const plain = await httpCall(url.replace(/^https:/, 'http:'), { headers: metricsAuthHeader(m.params) })
      t.equal(plain.status, 400, `${url}: plain HTTP is refused, even with the password`)
    }
    // The decision in README's Security section: Patroni's GET API stays open (HAProxy's and Consul's
    // checks, the members' leader race); only its unsafe methods ask for RESTPASS.
    const open = await httpCall(`${patroniUrl(m.params)}/patroni`, { tls: c.tls?.client })
    t.equal(open.status, 200, `${m.name}: GET /patroni needs no credentials`)
  }
  // The metrics the shipped rules are written against exist under these names.
  for (const metric of [
    'patroni_primary',
    'patroni_replica',
    'patroni_xlog_location',
    'patroni_xlog_replayed_location',
    'patroni_is_paused',
    'patroni_postgres_running',
    'patroni_sync_standby',
    'patroni_standby_leader',
    'pg_stat_archiver_failed_count',
    'pg_stat_archiver_last_archive_age',
    'pg_replication_slots_pg_wal_lsn_diff',
    'node_filesystem_avail_bytes',
  ])
    t.ok((await instantQuery(prom.url, `count(${metric})`)).length > 0, `${metric} is scraped`)
  // The certificates' ends from the jail itself: the file the cook wrote, read by the real node_exporter's
  // textfile collector (the directory its rc.conf variable names) and scraped with the member's labels.
  const notAfter = (pem: string | undefined) =>
    Math.floor(new Date(new X509Certificate(pem ?? '').validTo).getTime() / 1000)
  t.equal(
    await sum('node_textfile_scrape_error'),
    0,
    'node_exporter reads the textfile directory without error',
  )
  for (const m of c.members) {
    const series = await instantQuery(prom.url, `cook_tls_certificate_not_after_seconds{member="${m.name}"}`)
    t.same(
      Object.fromEntries(series.map((x) => [x.metric.file, x.value])),
      { member: notAfter(m.params.TLSCERT), ca: notAfter(m.params.TLSCA) },
      `${m.name}: cook_tls_certificate_not_after_seconds is each certificate's notAfter`,
    )
  }
  const slots = await instantQuery(prom.url, `pg_replication_slots_pg_wal_lsn_diff{member="${old.name}"}`)
  t.same(
    slots.map((s) => s.metric.slot_name).sort(),
    replicas.map((r) => r.name).sort(),
    "the leader's slots, one per replica, with the labels the rule reports",
  )
  // Quiet when healthy. A scrape that misses its 1 s timeout on this loaded machine may leave a rule
  // pending for a moment (it would need 1 min to fire): the healthy cluster must end with none.
  const patroniAlerts = async () =>
    (await activeAlerts(prom.url)).filter((a) => a.labels.alertname?.startsWith('Patroni'))
  await waitFor(
    'no Patroni alert while the cluster is healthy',
    async () => (await patroniAlerts()).length === 0,
    {
      timeout: 30000,
      interval: 500,
    },
  )
  t.pass('no Patroni alert while the cluster is healthy')

  // cook status on the leader and a replica: healthy, exit 0.
  const ls = await status(old)
  t.equal(ls.code, 0, JSON.stringify(ls.report.reasons))
  t.equal(ls.report.health, 'ok')
  t.equal(ls.report.patroni?.role, 'leader')
  t.equal(ls.report.patroni?.state, 'running')
  t.ok((ls.report.patroni?.timeline ?? 0) >= 1, 'a timeline')
  t.same(
    ls.report.services.map((s) => [s.name, s.up]),
    [
      ['patroni', true],
      ['node_exporter', true],
      ['postgres_exporter', true],
    ],
  )
  t.same([ls.report.params.seasoned, ls.report.params.current], [true, true])
  t.equal(ls.report.dcs.reachable, true)
  t.equal(ls.report.archiving?.on, true, 'WAL archiving is on (backups)')
  t.equal(ls.report.archiving?.failed, 0)
  t.equal(ls.report.backups?.lastBackup?.type, 'full', 'the newest backup, read from the repository')
  t.ok((ls.report.backups?.lastBackup?.ageS ?? -1) >= 0 && (ls.report.backups?.lastBackup?.ageS ?? 1e9) < 600)
  t.same(
    ls.report.certificates?.map((x) => [x.param, x.daysLeft >= 28]),
    [
      ['TLSCERT', true],
      ['TLSCA', true],
    ],
    "the member's certificate and the CA, with the days they have left",
  )
  t.match(ls.text, /^backups +newest full ended /m)
  t.match(ls.text, /^tls +TLSCERT until \d{4}-\d\d-\d\d \(\d+ days\), TLSCA until /m)
  t.same(
    ls.report.cluster.map((m) => m.name).sort(),
    c.members.map((m) => m.name),
  )
  t.match(ls.text, new RegExp(`^member ${old.name} of cluster e2e-monitoring .*: HEALTHY$`, 'm'))
  t.equal(ls.textCode, 0)
  t.same(ls.leaks, [], 'no secret printed')
  const rs = await status(replica)
  t.equal(rs.code, 0, JSON.stringify(rs.report.reasons))
  t.equal(rs.report.patroni?.role, 'replica')
  t.equal(rs.report.backups?.lastBackup?.type, 'full', 'a replica reads the same repository')
  t.equal(typeof rs.report.patroni?.lagBytes, 'number', 'the replica reports its lag')
  t.same(rs.leaks, [])
  const changed = await status(replica, { MAXLAG: '2097152' })
  t.equal(changed.code, 1, 'parameters changed since seasoning: a warning')
  t.match(changed.report.reasons.map((r) => r.message).join('\n'), /parameters changed .*MAXLAG/)

  // The leader dies: its member-down alert goes pending, then fires; a replica takes over.
  const t1 = Date.now()
  await c.kill(old)
  const memberDown = async (state: string) =>
    (await activeAlerts(prom.url)).find(
      (a) => a.labels.alertname === 'PatroniMemberDown' && a.labels.member === old.name && a.state === state,
    )
  const pending = await waitFor('PatroniMemberDown to be pending', () => memberDown('pending'), {
    timeout: 30000,
    interval: 250,
  })
  t.comment(`PatroniMemberDown pending ${since(t1)} after the kill`)
  t.equal(pending.labels.scope, 'e2e-monitoring')
  const firing = await waitFor('PatroniMemberDown to fire', () => memberDown('firing'), {
    timeout: 30000,
    interval: 250,
  })
  t.comment(`PatroniMemberDown firing ${since(t1)} after the kill`)
  t.equal(firing.annotations.summary, `Member ${old.name} of e2e-monitoring is down`)
  t.equal(firing.labels.severity, 'warning')

  const down = await status(old)
  t.equal(down.code, 2, 'a killed member: critical')
  t.same(
    down.report.services.map((s) => [s.name, s.up]),
    [
      ['patroni', false],
      ['node_exporter', false],
      ['postgres_exporter', false],
    ],
  )
  t.equal(down.report.patroni, null)
  t.match(down.report.reasons.map((r) => r.message).join('\n'), /patroni does not answer/)
  t.same(down.leaks, [])

  const next = await c.waitNewLeader(old)
  t.comment(`${next.name} leads ${since(t1)} after the kill`)

  // The old leader rejoins: the alert resolves.
  c.startMember(old)
  await c.waitFormed()
  const t2 = Date.now()
  await waitFor(
    'PatroniMemberDown to resolve',
    async () => !(await activeAlerts(prom.url)).some((a) => a.labels.alertname === 'PatroniMemberDown'),
    { timeout: 60000, interval: 250 },
  )
  t.comment(`PatroniMemberDown resolved ${since(t2)} after the rejoin`)
  const back = await status(old)
  t.equal(back.code, 0, JSON.stringify(back.report.reasons))
  t.equal(back.report.patroni?.role, 'replica', 'the old leader is back as a replica')
  t.same(
    (await activeAlerts(prom.url)).filter((a) => a.state === 'firing'),
    [],
    'nothing fires once the cluster is whole again',
  )
})
