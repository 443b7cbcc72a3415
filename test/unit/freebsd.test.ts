// The FreeBSD adapter (argv, read-back, errors) against recording stand-ins of sysrc(8), service(8) and the
// Consul CLI on a sealed PATH: the assertions are about what the adapter does, not the stand-ins' wording.
import t from 'tap'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CookError } from '../../cook/errors.js'
import { COMMANDS, freebsd, JAIL_PATH, sysrcRefusal } from '../../cook/freebsd.js'
import { validate, type RawParams } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { run } from '../../cook/shell.js'
import { basicEnv, tempDir } from '../helpers.js'
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
  // A value with spaces and single quotes arrives as one argument and comes back as it went in.
  const odd = `a b 'c' d`
  t.equal(await s.sys.sysrcEnsure('node_exporter_args', odd), true)
  t.equal(await s.sys.sysrcGet('node_exporter_args'), odd)
  t.equal(await s.sys.sysrcEnsure('node_exporter_args', odd), false)
})

t.test('sysrc: a value rc.conf cannot carry is refused, nothing written', async (t) => {
  // sysrc(8) writes NAME="VALUE" unescaped and reads it back through sh: each of these would come back
  // changed (or break rc.conf), so the cook would rewrite it at every start.
  const s = standIns(tempDir(t))
  for (const value of ['pa$$word', 'say "hi"', 'C:\\dir', 'a`id`b', 'two\nlines']) {
    const e = await s.sys.sysrcEnsure('x_flags', value).catch((err: unknown) => err)
    t.ok(e instanceof CookError, JSON.stringify(value))
    t.match((e as CookError).message, /^rc\.conf variable x_flags: holds .*, which rc\.conf cannot carry/)
  }
  t.same(s.callsOf('sysrc'), [], 'sysrc never ran')
  t.same(s.rcConf(), {})
})

t.test(
  'every rc.conf variable the plan sets comes back from sysrc as set: a second start writes none',
  async (t) => {
    const variants: Record<string, string>[] = [
      {},
      { DCS: 'etcd', ETCDHOSTS: '10.0.0.2,10.0.0.3,10.0.0.4' },
      { MYIP: '2001:db8::7', BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'c'.repeat(40) },
    ]
    for (const v of variants) {
      const s = standIns(tempDir(t))
      const rc = plan(validate({ ...basicEnv(), ...v } as RawParams)).rcConf
      for (const [name, value] of Object.entries(rc)) {
        t.equal(sysrcRefusal(value), undefined, `${name}=${value}`)
        // cron_enable and syslogd_enable are YES in /etc/defaults/rc.conf already: sysrc reads them there and
        // nothing is written.
        t.equal(
          await s.sys.sysrcEnsure(name, value),
          !['cron_enable', 'syslogd_enable'].includes(name),
          `${name} set`,
        )
      }
      for (const [name, value] of Object.entries(rc)) {
        t.equal(await s.sys.sysrcGet(name), value, `${name} reads back`)
        t.equal(await s.sys.sysrcEnsure(name, value), false, `${name} is not written again`)
      }
    }
  },
)

t.test('service: start, status, stop; failures carry stderr', async (t) => {
  const s = standIns(tempDir(t))
  t.teardown(() => s.killAll())
  t.equal(await s.sys.running('node_exporter'), false)
  await s.sys.sysrcEnsure('node_exporter_enable', 'YES')
  await s.sys.service('node_exporter', 'start')
  t.equal(await s.sys.running('node_exporter'), true)
  // A failure carries the command, its exit code and whatever it said on stderr (as run directly).
  const direct = await run(['service', 'node_exporter', 'start'], { env: s.env })
  t.equal(direct.exitCode, 1)
  const again = await s.sys.service('node_exporter', 'start').catch((e: unknown) => e)
  t.ok(again instanceof CookError)
  t.equal(
    (again as CookError).message,
    `command failed: ${join(s.dir, 'service')} node_exporter start\nexit code: 1\nstderr: ${direct.stderr.trim()}`,
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

t.test(
  'commands are called by their absolute FreeBSD paths, with a PATH that holds /usr/local too',
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
