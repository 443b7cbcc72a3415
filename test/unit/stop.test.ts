// `cook stop`, the jail's stop hook, against recording stand-ins of sysrc(8), service(8) and the Consul CLI.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { statePaths } from '../../cook/lifecycle.js'
import { DEFAULT_STOP_TIMEOUT_S } from '../../cook/params.js'
import { StepLog } from '../../cook/log.js'
import { stopJail } from '../../cook/stop.js'
import { cook, tempDir } from '../helpers.js'
import { standIns, type StandIns } from '../standins.js'

async function running(
  t: Test,
  rc: Record<string, string>,
): Promise<{ s: StandIns; root: string; out: string[]; log: StepLog }> {
  const root = tempDir(t, 'cook-jail-')
  const s = standIns(tempDir(t, 'cook-standins-'))
  t.teardown(() => s.killAll())
  for (const [k, v] of Object.entries(rc)) await s.sys.sysrcEnsure(k, v)
  // The services the start enabled (rc.subr starts nothing whose rcvar is not YES); consul only as given.
  await s.sys.sysrcEnsure('patroni_enable', 'YES')
  await s.sys.sysrcEnsure('node_exporter_enable', 'YES')
  const out: string[] = []
  return { s, root, out, log: new StepLog({ out: (l) => out.push(l), file: statePaths(root).cookLog }) }
}

const actions = (calls: string[]) => calls.filter((c) => !c.startsWith('sysrc'))

t.test('stops patroni, then node_exporter, then consul leave', async (t) => {
  const j = await running(t, { patroni_stop_timeout: '25', consul_enable: 'YES' })
  for (const svc of ['consul', 'patroni', 'node_exporter']) await j.s.sys.service(svc, 'start')
  const n = j.s.calls().length
  const report = await stopJail({ sys: j.s.sys, log: j.log, stopping: statePaths(j.root).stopping })
  t.same(actions(j.s.calls().slice(n)), [
    'service patroni stop',
    'service node_exporter stop',
    'consul leave',
  ])
  t.same(
    j.s
      .calls()
      .slice(n)
      .filter((c) => c.startsWith('sysrc')),
    ['sysrc -q -n patroni_stop_timeout', 'sysrc -q -n consul_enable'],
    'reads what the start left in rc.conf, writes nothing',
  )
  t.match(report, { timeoutS: 25, patroni: 'stopped', node_exporter: 'stopped', consul: 'stopped' })
  for (const svc of ['consul', 'patroni', 'node_exporter']) t.notOk(j.s.running(svc), `${svc} is down`)
  t.ok(existsSync(statePaths(j.root).stopping), 'tells a cook in the foreground that this stop is planned')
  const log = readFileSync(statePaths(j.root).cookLog, 'utf8')
  t.match(log, /Step 1: cook stop: the jail is stopping/)
  t.match(log, /Step 2: stopping patroni \(up to (19\.\d|20\.0) s\)/)
  t.match(log, /Step 4: consul leave/)
  t.match(log, /Graceful leave complete/)
})

t.test(
  "consul leave gets the agent's token from a root-only file, never in argv or its environment",
  async (t) => {
    const j = await running(t, { patroni_stop_timeout: '25', consul_enable: 'YES' })
    await j.s.sys.service('consul', 'start')
    const token = join(j.root, 'consul-agent.token')
    writeFileSync(token, '6f1b2c3d-aaaa-bbbb-cccc-0123456789ab\n', { mode: 0o600 })
    const n = j.s.calls().length
    const report = await stopJail({
      sys: j.s.sys,
      log: j.log,
      stopping: statePaths(j.root).stopping,
      consulTokenFile: token,
    })
    t.equal(report.consul, 'stopped')
    const consul = j.s
      .calls()
      .slice(n)
      .filter((c) => c.startsWith('consul'))
    t.same(
      consul,
      ['consul leave', `consul-token file ${token} mode 600 owner 0 length 36`],
      'argv is `consul leave` alone; consul reads the token from CONSUL_HTTP_TOKEN_FILE, no CONSUL_HTTP_TOKEN',
    )
    // A file others may read is not used (and said so); consul then leaves without a token.
    const k = await running(t, { patroni_stop_timeout: '25', consul_enable: 'YES' })
    await k.s.sys.service('consul', 'start')
    const open = join(k.root, 'consul-agent.token')
    writeFileSync(open, 'tok\n', { mode: 0o644 })
    await stopJail({ sys: k.s.sys, log: k.log, stopping: statePaths(k.root).stopping, consulTokenFile: open })
    t.same(
      k.s.calls().filter((c) => c.startsWith('consul')),
      ['consul leave'],
    )
    t.match(k.out.join('\n'), /consul-agent\.token has mode 0644.*not used/)
  },
)

t.test('everything already down: still exits cleanly and says so', async (t) => {
  const j = await running(t, { patroni_stop_timeout: '25', consul_enable: 'YES' })
  const report = await stopJail({ sys: j.s.sys, log: j.log, stopping: statePaths(j.root).stopping })
  t.same(actions(j.s.calls()), ['service patroni stop', 'service node_exporter stop', 'consul leave'])
  t.match(report, { patroni: 'not running', node_exporter: 'not running', consul: 'failed' })
  t.match(j.out.join('\n'), /patroni is not running/)
  t.match(j.out.join('\n'), /connection refused/)
})

t.test('with DCS=etcd there is no consul to leave', async (t) => {
  const j = await running(t, { patroni_stop_timeout: '12' })
  await j.s.sys.service('patroni', 'start')
  const report = await stopJail({ sys: j.s.sys, log: j.log, stopping: statePaths(j.root).stopping })
  t.same(actions(j.s.calls()).slice(-2), ['service patroni stop', 'service node_exporter stop'])
  t.equal(report.timeoutS, 12, 'patroni_stop_timeout from rc.conf')
  t.equal(report.consul, 'skipped')
})

t.test('rc.conf unreadable: the DCS is unknown, so consul leave is still tried', async (t) => {
  const j = await running(t, {})
  // An agent that runs although rc.conf does not say so (started by hand: rc.subr's onestart).
  await j.s.sys.service('consul', 'onestart')
  for (const svc of ['patroni', 'node_exporter']) await j.s.sys.service(svc, 'start')
  const report = await stopJail({ sys: j.s.sys, log: j.log, stopping: statePaths(j.root).stopping })
  t.same(actions(j.s.calls()).slice(-3), [
    'service patroni stop',
    'service node_exporter stop',
    'consul leave',
  ])
  t.equal(report.consul, 'stopped')
  t.notOk(j.s.running('consul'), 'the agent left')
})

t.test('a Patroni that does not stop in time cannot hold the jail up', async (t) => {
  const j = await running(t, { patroni_stop_timeout: '25', consul_enable: 'YES' })
  for (const svc of ['consul', 'patroni', 'node_exporter']) await j.s.sys.service(svc, 'start')
  j.s.block('patroni', 'stop')
  const report = await stopJail({
    sys: j.s.sys,
    log: j.log,
    stopping: statePaths(j.root).stopping,
    timeoutS: 7,
  })
  t.equal(report.patroni, 'timed out')
  t.equal(report.node_exporter, 'stopped', 'the later steps still run')
  t.equal(report.consul, 'stopped')
  t.ok(report.elapsedMs < 7000 + 1500, `bounded by the timeout (took ${report.elapsedMs} ms)`)
  t.match(j.out.join('\n'), /did not finish in time; the jail's SIGTERM follows/)
})

t.test('`cook stop` exits 0 with no sysrc, service or consul at all, and logs why', async (t) => {
  // In-process, cook stop uses the real adapter: FreeBSD's paths, where this machine has no sysrc or consul
  // (exit 127) and a service(8) of its own that the adapter refuses off FreeBSD (exit 126), as in a jail
  // whose packages are gone.
  const root = tempDir(t)
  mkdirSync(join(root, 'var'), { recursive: true })
  // A jail the cook configured: its rc.d script is there.
  mkdirSync(join(root, 'usr/local/etc/rc.d'), { recursive: true })
  writeFileSync(join(root, 'usr/local/etc/rc.d/patroni'), '#!/bin/sh\n')
  const r = await cook(['stop', '--root', root, '--timeout', '5'])
  t.equal(r.code, 0)
  const log = readFileSync(join(root, 'var/log/cook.log'), 'utf8')
  t.match(log, /stopping patroni/)
  t.match(log, /exit code 12[67]: treated as already stopped/)
  t.match(log, /consul leave/, 'rc.conf unreadable: the DCS is unknown, so consul leave is tried')
  t.match(log, /cook stop finished in/)
  const noRc = await cook(['stop', '--root', root])
  t.equal(noRc.code, 0)
  t.match(
    readFileSync(join(root, 'var/log/cook.log'), 'utf8'),
    new RegExp(
      `cannot read patroni_stop_timeout from rc\\.conf \\(not set, or sysrc failed\\); using ${DEFAULT_STOP_TIMEOUT_S} s`,
    ),
  )
})

t.test('`cook stop` in a jail the cook never configured (an image being built) writes nothing', async (t) => {
  // pot create stops the jail it builds the image in, which runs exec.stop: no log, no flag may remain.
  const root = tempDir(t)
  const r = await cook(['stop', '--root', root])
  t.equal(r.code, 0)
  t.match(r.out, /the cook never configured this jail; nothing to stop/)
  t.same(readdirSync(root), [], 'no /var/log/cook.log, no /var/run/cook.stopping')
})
