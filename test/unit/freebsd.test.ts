// The FreeBSD adapter against recording stand-ins of sysrc(8), service(8) and the Consul CLI on PATH.
import t from 'tap'
import { CookError } from '../../cook/errors.js'
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
    /command failed: service node_exporter start\nexit code: 1\nstderr: node_exporter already running/,
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
