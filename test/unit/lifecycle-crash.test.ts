// A start killed midway (kill -9 of the cook and its children) converges on the next start. The start runs
// in a process of its own (test/fixtures/start-driver.ts) with the stand-ins of test/jail.ts.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { startJail } from '../../cook/lifecycle.js'
import { actions, jail } from '../jail.js'

t.test('a start killed midway converges on the next start', async (t) => {
  const j = await jail(t)
  const hold = j.s.block('patroni', 'start')
  const tsImport = process.execArgv.find((a) => a.includes('@tapjs/typescript'))
  const child = spawn(
    process.execPath,
    [
      ...(tsImport ? [tsImport] : []),
      new URL('../fixtures/start-driver.ts', import.meta.url).pathname,
      JSON.stringify({
        raw: j.raw,
        root: j.root,
        env: j.s.env,
        commands: j.s.commands,
        consulHttp: j.consul.url,
      }),
    ],
    { detached: true, stdio: 'ignore' },
  )
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
  for (let i = 0; i < 1200 && !hold.blocked(); i++) await sleep(50)
  t.ok(hold.blocked(), 'the start reached `service patroni start`')
  // kill -9 of the cook's process group: the command it waits for is in it (run() keeps it there).
  process.kill(-child.pid!, 'SIGKILL')
  t.equal(await exited, 'SIGKILL')
  hold.release()
  t.notOk(existsSync(join(j.root, 'usr/local/etc/pot-is-seasoned')), 'no marker after a killed start')
  t.ok(j.s.running('consul'), 'consul was started before the kill and still runs')
  t.notOk(j.s.running('patroni'))

  const n = j.s.calls().length
  const r = await startJail(j.params(), j.opts())
  t.equal(r.kind, 'first', 'without a marker the start seasons again')
  t.same(r.started, ['patroni', 'node_exporter', 'postgres_exporter', 'cron'])
  t.same(
    r.refreshed,
    ['syslogd', 'consul'],
    'a service running without a marker gets its configuration again',
  )
  t.same(
    actions(j.s.calls().slice(n)).filter((c) => c.startsWith('sysrc')),
    [
      'sysrc node_exporter_enable=YES',
      'sysrc node_exporter_user=nodeexport',
      'sysrc node_exporter_group=nodeexport',
      `sysrc node_exporter_listen_address=${j.raw.MYIP}:9100`,
      'sysrc node_exporter_args=--web.config.file=/usr/local/etc/node_exporter/web.yml',
      'sysrc node_exporter_flags=-H -o /var/log/node_exporter/node_exporter.log -P /var/run/node_exporter/daemon.pid',
      'sysrc node_exporter_textfile_dir=/var/tmp/node_exporter',
      'sysrc postgres_exporter_enable=YES',
      'sysrc postgres_exporter_user=pgmonitor',
      `sysrc postgres_exporter_listen_address=${j.raw.MYIP}:9187`,
      'sysrc postgres_exporter_env_file=/usr/local/etc/postgres_exporter/env',
      'sysrc postgres_exporter_web_config=/usr/local/etc/postgres_exporter/web.yml',
    ],
    'only the rc.conf settings the killed start had not reached',
  )
  const files = readdirSync(join(j.root, 'usr/local/etc/patroni'))
  t.same(
    files.filter((f) => f.startsWith('.cook-tmp-')),
    [],
    'no temp file left',
  )
  t.ok(existsSync(join(j.root, 'usr/local/etc/pot-is-seasoned')))
  const again = await startJail(j.params(), j.opts())
  t.equal(again.kind, 'unchanged')
})
