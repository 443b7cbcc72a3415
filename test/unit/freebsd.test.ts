// The FreeBSD adapter against recording stand-ins of sysrc(8), service(8) and the Consul CLI on PATH.
import t from 'tap'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CookError } from '../../cook/errors.js'
import { COMMANDS, freebsd, JAIL_PATH } from '../../cook/freebsd.js'
import { tempDir } from '../helpers.js'
import { standIns } from '../standins.js'

t.test('sysrc: reads back, writes only a value that differs', async (t) => {
  const s = standIns(tempDir(t))
  t.equal(await s.sys.sysrcGet('consul_enable'), undefined, 'unset')
  t.equal(await s.sys.sysrcEnsure('consul_enable', 'YES'), true)
  t.equal(await s.sys.sysrcGet('consul_enable'), 'YES')
  t.equal(await s.sys.sysrcEnsure('consul_enable', 'YES'), false, 'second run changes nothing')
  t.same(s.callsOf('sysrc'), [
    'sysrc -q -n consul_enable',
    'sysrc -q -n consul_enable',
    'sysrc consul_enable=YES',
    'sysrc -q -n consul_enable',
    'sysrc -q -n consul_enable',
  ])
  // A value with spaces and quotes arrives as one argument.
  const odd = `a b 'c' "d" $e`
  t.equal(await s.sys.sysrcEnsure('node_exporter_args', odd), true)
  t.equal(await s.sys.sysrcGet('node_exporter_args'), odd)
  t.equal(s.rcConf().node_exporter_args, odd)
})

t.test('service: start, status, stop; failures carry stderr', async (t) => {
  const s = standIns(tempDir(t))
  t.teardown(() => s.killAll())
  t.equal(await s.sys.running('node_exporter'), false)
  await s.sys.service('node_exporter', 'start')
  t.equal(await s.sys.running('node_exporter'), true)
  const again = await s.sys.service('node_exporter', 'start').catch((e: unknown) => e)
  t.ok(again instanceof CookError)
  t.match(
    (again as CookError).message,
    /command failed: \S+\/service node_exporter start\nexit code: 1\nstderr: node_exporter already running/,
  )
  const soft = await s.sys.service('node_exporter', 'start', { allowFailure: true })
  t.equal(soft.exitCode, 1)
  await s.sys.service('node_exporter', 'stop')
  t.equal(await s.sys.running('node_exporter'), false)
})

t.test('consul leave stops the agent and fails when there is none', async (t) => {
  const s = standIns(tempDir(t))
  t.teardown(() => s.killAll())
  await s.sys.service('consul', 'start')
  t.equal((await s.sys.consulLeave(2000)).exitCode, 0)
  t.equal(s.running('consul'), false)
  const r = await s.sys.consulLeave(2000)
  t.equal(r.exitCode, 1)
  t.match(r.stderr, /connection refused/)
})

t.test(
  'commands are called by their absolute FreeBSD paths, with the PATH service(8) gives rc scripts',
  async (t) => {
    t.same(COMMANDS, {
      sysrc: '/usr/sbin/sysrc',
      service: '/usr/sbin/service',
      consul: '/usr/local/bin/consul',
    })
    t.equal(JAIL_PATH, '/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin')
    // A command that prints its PATH, standing in for service(8) under a caller with a poor environment.
    const dir = tempDir(t)
    const service = join(dir, 'service')
    writeFileSync(service, '#!/bin/sh\n# cook-stand-in\nprintf %s "$PATH"\n')
    chmodSync(service, 0o755)
    const r = await freebsd({ commands: { service } }).service('x', 'status')
    t.equal(r.stdout, JAIL_PATH)
  },
)

t.test('off FreeBSD a command that is not a stand-in is refused, never run', async (t) => {
  const dir = tempDir(t)
  const ran = join(dir, 'ran')
  const real = join(dir, 'service')
  // What Debian's /usr/sbin/service would be: a real program with no stand-in mark.
  writeFileSync(real, `#!/bin/sh\ntouch '${ran}'\n`)
  chmodSync(real, 0o755)
  const linux = freebsd({ commands: { service: real, sysrc: real, consul: real }, platform: 'linux' })
  const r = await linux.service('patroni', 'stop', { allowFailure: true })
  t.equal(r.exitCode, 126)
  t.match(r.stderr, /refused to run .*service: this is linux, not FreeBSD, and it is not a cook stand-in/)
  t.equal(await linux.running('patroni'), false)
  t.equal(await linux.sysrcGet('x'), undefined)
  t.equal((await linux.consulLeave(1000)).exitCode, 126)
  t.notOk(existsSync(ran), 'the command never ran')
  // The default adapter on this machine refuses Debian's own service(8) the same way.
  if (existsSync('/usr/sbin/service') && process.platform !== 'freebsd') {
    const d = await freebsd().service('patroni', 'status', { allowFailure: true })
    t.equal(d.exitCode, 126, "this machine's /usr/sbin/service is refused")
  }
  // On FreeBSD the same command runs.
  await freebsd({ commands: { service: real }, platform: 'freebsd' }).service('patroni', 'stop')
  t.ok(existsSync(ran))
})
