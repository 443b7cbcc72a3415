// The FreeBSD adapter (argv, read-back, errors) against recording stand-ins of sysrc(8), service(8) and the
// Consul CLI on a sealed PATH: the assertions are about what the adapter does, not the stand-ins' wording.
import t from 'tap'
import { CookError } from '../../cook/errors.js'
import { run } from '../../cook/shell.js'
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
})

t.test('service: start, status, stop; failures carry stderr', async (t) => {
  const s = standIns(tempDir(t))
  t.teardown(() => s.killAll())
  t.equal(await s.sys.running('node_exporter'), false)
  await s.sys.service('node_exporter', 'start')
  t.equal(await s.sys.running('node_exporter'), true)
  // A failure carries the command, its exit code and whatever it said on stderr (as run directly).
  const direct = await run(['service', 'node_exporter', 'start'], { env: s.env })
  t.equal(direct.exitCode, 1)
  const again = await s.sys.service('node_exporter', 'start').catch((e: unknown) => e)
  t.ok(again instanceof CookError)
  t.equal(
    (again as CookError).message,
    `command failed: service node_exporter start\nexit code: 1\nstderr: ${direct.stderr.trim()}`,
  )
  const soft = await s.sys.service('node_exporter', 'start', { allowFailure: true })
  t.equal(soft.exitCode, 1, 'allowFailure: the result, no throw')
  await s.sys.service('node_exporter', 'stop')
  t.equal(await s.sys.running('node_exporter'), false)
})

t.test('consul leave: the command with a timeout; its failure is a result, never a throw', async (t) => {
  const s = standIns(tempDir(t))
  t.teardown(() => s.killAll())
  const r = await s.sys.consulLeave(2000)
  t.same(s.callsOf('consul'), ['consul leave'])
  t.equal(r.exitCode, 1, 'no agent: the exit code comes back')
  t.equal(r.timedOut, false)
})
