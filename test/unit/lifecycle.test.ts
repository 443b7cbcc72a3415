// The jail's start, run on this Linux machine: FreeBSD's sysrc and service are recording stand-ins on PATH
// (test/standins.ts), the Consul agent's HTTP API is a loopback stand-in server, Patroni's REST API is a
// loopback HTTP responder that the `service` stand-in starts (test/jail.ts).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PATHS } from '../../cook/layout.js'
import { startJail } from '../../cook/lifecycle.js'
import { issue, makeCa, readPem } from '../../scripts/lib/certs.js'
import { basicEnv, cook, tempDir } from '../helpers.js'
import { actions, jail, snapshot } from '../jail.js'

t.test(
  'first start: render, rc.conf, then consul, patroni, node_exporter, postgres_exporter in order; marker last',
  async (t) => {
    const j = await jail(t)
    const r = await startJail(j.params(), j.opts())
    t.equal(r.kind, 'first')
    t.same(r.started, ['syslogd', 'consul', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'])
    const myip = j.raw.MYIP
    t.same(actions(j.s.calls()), [
      // syslogd_enable and cron_enable are YES in /etc/defaults/rc.conf: sysrc reads them there, writes nothing.
      'service syslogd start',
      'sysrc consul_enable=YES',
      'sysrc consul_datadir=/var/db/consul',
      'service consul start',
      'sysrc patroni_enable=YES',
      'sysrc patroni_config=/usr/local/etc/patroni/patroni.yml',
      'sysrc patroni_stop_timeout=25',
      'service patroni start',
      'sysrc node_exporter_enable=YES',
      'sysrc node_exporter_user=nodeexport',
      'sysrc node_exporter_group=nodeexport',
      `sysrc node_exporter_listen_address=${myip}:9100`,
      'sysrc node_exporter_args=--web.config.file=/usr/local/etc/node_exporter/web.yml',
      'sysrc node_exporter_flags=-H -o /var/log/node_exporter/node_exporter.log -P /var/run/node_exporter/daemon.pid',
      'sysrc node_exporter_textfile_dir=/var/tmp/node_exporter',
      'service node_exporter start',
      'sysrc postgres_exporter_enable=YES',
      'sysrc postgres_exporter_user=pgmonitor',
      `sysrc postgres_exporter_listen_address=${myip}:9187`,
      'sysrc postgres_exporter_env_file=/usr/local/etc/postgres_exporter/env',
      'sysrc postgres_exporter_web_config=/usr/local/etc/postgres_exporter/web.yml',
      'service postgres_exporter start',
      'service cron start',
    ])
    t.notOk('postgresql_enable' in j.s.rcConf(), 'Patroni starts PostgreSQL, rc.conf never does')
    t.ok(j.consul.requests.includes('GET /v1/status/leader'), 'waited for the Consul leader')
    t.ok(existsSync(join(j.root, 'usr/local/etc/patroni/patroni.yml')))
    t.ok(existsSync(join(j.root, 'usr/local/etc/consul.d/agent.hcl')))
    t.equal(statSync(join(j.root, 'mnt/postgres/data')).mode & 0o777, 0o700)
    const marker = JSON.parse(readFileSync(join(j.root, 'usr/local/etc/pot-is-seasoned'), 'utf8'))
    t.equal(marker.format, 1)
    t.match(marker.params, /^[0-9a-f]{64}$/)
    t.match(marker.secrets, /^[0-9a-f]{64}$/)
    t.same(Object.keys(marker.services), [
      'syslogd',
      'consul',
      'patroni',
      'node_exporter',
      'postgres_exporter',
      'cron',
    ])
    t.equal(statSync(join(j.root, 'var/db/cook/digest.key')).mode & 0o777, 0o600)

    const log = j.logText()
    t.same(log.trimEnd().split('\n'), j.out, 'the log file holds what stdout got')
    const steps = log.split('\n').filter((l) => / Step \d+: /.test(l))
    t.ok(steps.length >= 8)
    for (const [i, line] of steps.entries())
      t.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z Step ${i + 1}: `))
    t.match(log, /Consul leader: 10\.0\.0\.2:8300/)
    t.match(log, /Patroni answers http:\/\/127\.\d+\.\d+\.\d+:8008\/liveness/)
    t.match(log, /seasoned: \/usr\/local\/etc\/pot-is-seasoned written/)
  },
)

t.test('second start with the same parameters changes nothing and restarts nothing', async (t) => {
  const j = await jail(t)
  await startJail(j.params(), j.opts())
  const before = snapshot(j.root)
  const rcBefore = j.s.rcConf()
  const callsBefore = j.s.calls().length
  const r = await startJail(j.params(), j.opts())
  t.equal(r.kind, 'unchanged')
  t.same(r.started, [])
  t.same(r.refreshed, [])
  const calls = j.s.calls().slice(callsBefore)
  t.same(actions(calls), [], 'no sysrc writes, no start, restart or reload')
  t.same(snapshot(j.root), before, 'no file changed, not even its mtime')
  t.same(j.s.rcConf(), rcBefore)
  t.match(j.logText(), /parameters unchanged since .*: starting the services only/)
})

t.test('a stopped service is started again on an unchanged start', async (t) => {
  const j = await jail(t)
  await startJail(j.params(), j.opts())
  await j.s.sys.service('node_exporter', 'stop')
  const n = j.s.calls().length
  const r = await startJail(j.params(), j.opts())
  t.equal(r.kind, 'unchanged')
  t.same(actions(j.s.calls().slice(n)), ['service node_exporter start'])
})

t.test('reseason: only the service whose configuration changed is reloaded or restarted', async (t) => {
  const j = await jail(t)
  await startJail(j.params(), j.opts())

  let n = j.s.calls().length
  let r = await startJail(j.params({ TTL: '40' }), j.opts())
  t.equal(r.kind, 'reseason')
  t.same(r.refreshed, ['patroni'])
  t.same(actions(j.s.calls().slice(n)), ['service patroni reload'], 'TTL is in patroni.yml only')
  t.match(readFileSync(join(j.root, 'usr/local/etc/patroni/patroni.yml'), 'utf8'), /ttl: 40/)
  t.match(j.logText(), /parameters changed since .* \(TTL\): reseasoning/)
  t.match(j.logText(), /bootstrap\.dcs only applies when the cluster is first created/)

  n = j.s.calls().length
  r = await startJail(j.params({ TTL: '40', DATACENTER: 'dc2' }), j.opts())
  t.same(r.refreshed, ['consul'])
  t.same(actions(j.s.calls().slice(n)), ['service consul restart'])

  // A secret that Patroni reads: the secrets digest covers every secret, not only ADMPASS.
  n = j.s.calls().length
  const later = { TTL: '40', DATACENTER: 'dc2', KEKPASS: 'a new superuser password' }
  r = await startJail(j.params(later), j.opts())
  t.equal(r.kind, 'reseason', 'a changed KEKPASS alone is a reseason')
  // MONPASS and METRICSPASS are derived from KEKPASS: the exporters get their new files at a restart.
  t.same(actions(j.s.calls().slice(n)), [
    'service patroni reload',
    'service node_exporter restart',
    'service postgres_exporter restart',
  ])
  t.match(readFileSync(join(j.root, 'usr/local/etc/patroni/patroni.yml'), 'utf8'), /a new superuser password/)

  n = j.s.calls().length
  r = await startJail(j.params({ ...later, ADMPASS: 'another admin password' }), j.opts())
  t.equal(r.kind, 'reseason')
  t.same(r.refreshed, [], 'no service reads the admin role: its password goes to the leader')
  t.same(actions(j.s.calls().slice(n)), [])
  t.match(j.logText(), /\(a secret parameter\): reseasoning/)
  t.match(
    j.logText(),
    /post-bootstrap script \(the admin and monitor roles\) only runs when the cluster is first created/,
  )
  t.match(j.logText(), /Step \d+: checking that the leader's roles have this member's passwords/)

  n = j.s.calls().length
  r = await startJail(j.params({ ...later, ADMPASS: 'another admin password' }), j.opts())
  t.equal(r.kind, 'unchanged', 'the reseason was recorded')
  t.same(actions(j.s.calls().slice(n)), [])
})

t.test('a marker without what each service was given is rewritten after one refresh', async (t) => {
  // As a cook that recorded no service digests left it: the parameters are the same, the services' are not.
  const j = await jail(t)
  await startJail(j.params(), j.opts())
  const markerPath = join(j.root, 'usr/local/etc/pot-is-seasoned')
  const older = JSON.parse(readFileSync(markerPath, 'utf8'))
  delete older.services
  writeFileSync(markerPath, JSON.stringify(older))
  const r = await startJail(j.params(), j.opts())
  t.equal(r.kind, 'unchanged')
  t.same(
    r.refreshed,
    ['syslogd', 'consul', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'],
    'each running service gets its configuration',
  )
  t.same(Object.keys(JSON.parse(readFileSync(markerPath, 'utf8')).services), r.refreshed, 'marker rewritten')
  const n = j.s.calls().length
  const again = await startJail(j.params(), j.opts())
  t.same(again.refreshed, [], 'the next start refreshes nothing')
  t.same(actions(j.s.calls().slice(n)), [])
})

t.test(
  "a changed KEKPASS alone reseasons: the leader's roles are checked before Patroni reloads",
  async (t) => {
    const j = await jail(t)
    await startJail(j.params(), j.opts())
    const mark = j.logText().length
    const n = j.s.calls().length
    const r = await startJail(j.params({ KEKPASS: 'a rotated superuser password' }), j.opts())
    t.equal(r.kind, 'reseason', 'KEKPASS is in the secrets digest')
    t.same(
      r.refreshed,
      ['patroni', 'node_exporter', 'postgres_exporter'],
      'patroni.yml carries the new superuser and derived passwords, the exporters their derived MONPASS and METRICSPASS hash',
    )
    t.same(actions(j.s.calls().slice(n)), [
      'service patroni reload',
      'service node_exporter restart',
      'service postgres_exporter restart',
    ])
    const log = j.logText().slice(mark)
    const check = log.search(/checking that the leader's roles have this member's passwords/)
    t.ok(check > 0 && check < log.indexOf('reloading patroni'), 'the roles are checked before the reload')
    t.match(log, /no leader in consul right now: no role to check/)
    t.notOk(log.includes('a rotated superuser password'), 'the value is not logged')

    await startJail(j.params({ KEKPASS: 'a rotated superuser password', TTL: '40' }), j.opts())
    t.notMatch(
      j.logText().slice(mark + log.length),
      /checking that the leader's roles/,
      'not when no secret changed',
    )
  },
)

t.test('secrets never reach the log, stdout or a command line', async (t) => {
  const j = await jail(t)
  const p = j.params()
  await startJail(p, j.opts())
  await startJail(j.params({ TTL: '40' }), j.opts())
  const everything = [
    j.logText(),
    j.out.join('\n'),
    j.s.calls().join('\n'),
    readFileSync(join(j.root, 'usr/local/etc/pot-is-seasoned'), 'utf8'),
  ].join('\n')
  for (const secret of [p.ADMPASS, p.KEKPASS, p.GOSSIPKEY!, p.CONSULTOKEN!, p.REPPASS, p.REWINDPASS])
    t.notOk(everything.includes(secret), `secret ${secret.slice(0, 3)}… not found`)
  t.ok(
    readFileSync(join(j.root, 'usr/local/etc/patroni/patroni.yml'), 'utf8').includes('kek-S3cret'),
    'but it is in patroni.yml',
  )
})

t.test('cook run with invalid parameters: exit 78, logged without secrets, nothing rendered', async (t) => {
  const root = tempDir(t)
  const r = await cook(['run', '--root', root, '--owners', 'record'], {
    ...basicEnv(),
    NODENAME: 'not a label',
    KEKPASS: 'p\nq',
  })
  t.equal(r.code, 78)
  const log = readFileSync(join(root, 'var/log/cook.log'), 'utf8')
  t.match(log, /error: NODENAME: "not a label" is not a DNS label/)
  t.match(log, /error: KEKPASS: contains a line break/)
  t.notOk(log.includes('p\nq'))
  t.notOk(existsSync(join(root, 'usr/local/etc/patroni')), 'nothing rendered')
})

t.test('a new certificate reseasons with a reload of Patroni, no restart', async (t) => {
  const ca = makeCa(tempDir(t, 'cook-ca-'))
  const j = await jail(t, { TLS: 'on' })
  const certs = (name: string) => {
    const c = issue(ca, name, { ips: [j.raw.MYIP ?? ''], dns: ['pg1'] })
    return {
      TLSCA: readPem(ca.cert),
      TLSCERT: readPem(c.cert),
      TLSKEY: readPem(c.key),
      CONSULAUTOENCRYPT: 'on',
    }
  }
  // The Patroni stand-in answers plain HTTP; the probe's HTTPS is proven on the dev cluster.
  const opts = j.opts({ patroniHttp: `http://${j.raw.MYIP}:8008` })
  const first = certs('pg1-a')
  await startJail(j.params(first), opts)
  const n = j.s.calls().length
  const r = await startJail(j.params(certs('pg1-b')), opts)
  t.equal(r.kind, 'reseason')
  t.same(
    r.refreshed,
    ['patroni', 'node_exporter', 'postgres_exporter'],
    'Patroni and the exporters (their own certificate copies); the agent gets its certificate by auto_encrypt',
  )
  t.same(
    actions(j.s.calls().slice(n)),
    ['service patroni reload', 'service node_exporter restart', 'service postgres_exporter restart'],
    'Patroni: a reload (SIGHUP), no restart; the exporters restart',
  )
  t.match(j.logText(), /parameters changed since .* \(TLSCERT, a secret parameter\): reseasoning/)
  const key = join(j.root, PATHS.patroniKey)
  t.equal(statSync(key).mode & 0o777, 0o600)
  t.not(readFileSync(key, 'utf8'), first.TLSKEY, 'the new key is in place')
  t.notMatch(j.logText(), /PRIVATE KEY|BEGIN CERT/, 'no PEM in the log')
})
