// The waits of the jail's start (a replica waits for its cluster in Consul or the real etcd; timeouts name
// what did not come up) and Nomad mode's foreground, with the stand-ins of test/jail.ts.
import { spawn, spawnSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { apply } from '../../cook/apply.js'
import { isNomadMode } from '../../cook/commands/run.js'
import { CookError } from '../../cook/errors.js'
import { stayInForeground } from '../../cook/foreground.js'
import { startJail, statePaths } from '../../cook/lifecycle.js'
import { plan } from '../../cook/plan.js'
import { tempDir } from '../helpers.js'
import { jail, SECRETS } from '../jail.js'

t.test('replica: Patroni starts only once the cluster exists in Consul', async (t) => {
  const j = await jail(t, { SERVICETAG: 'replica' })
  const done = startJail(j.params(), j.opts())
  const kvAsked = () => j.consul.requests.filter((r) => r.startsWith('GET /v1/kv/')).length
  for (let i = 0; i < 200 && kvAsked() < 6; i++) await sleep(25)
  t.ok(kvAsked() >= 6, 'asked the KV store repeatedly')
  t.notOk(
    j.s.calls().some((c) => c.startsWith('service patroni start') || c.startsWith('sysrc patroni_enable')),
    'Patroni neither started nor enabled in rc.conf while there is no cluster',
  )
  j.consul.keys.add('/service/postgresql/initialize')
  const r = await done
  t.same(r.started, ['syslogd', 'consul', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'])
  t.ok(j.consul.requests.includes('GET /v1/kv/service/postgresql/leader'), 'the leader key counts too')
  t.ok(
    j.consul.tokens.length > 0 && j.consul.tokens.every((x) => x === SECRETS.CONSULTOKEN),
    'token in a header',
  )
  t.match(j.logText(), /SERVICETAG=replica: waiting until cluster "postgresql" exists in consul/)
})

t.test('replica: a cluster that has a leader key but no initialize key exists too', async (t) => {
  const j = await jail(t, { SERVICETAG: 'replica' })
  j.consul.keys.add('/service/postgresql/leader')
  const r = await startJail(j.params(), j.opts({ timeouts: { clusterExistsMs: 2000 } }))
  t.same(
    r.started,
    ['syslogd', 'consul', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'],
    'the leader key alone lets the replica start',
  )
})

t.test('replica with etcd: waits for the initialize key in the real etcd', async (t) => {
  const dir = tempDir(t, 'cook-etcd-')
  const host = '127.0.13.1'
  const port = 23790 + (process.pid % 100)
  const etcd = spawn(
    'etcd',
    [
      '--name=t',
      `--data-dir=${dir}`,
      `--listen-client-urls=http://${host}:${port}`,
      `--advertise-client-urls=http://${host}:${port}`,
      `--listen-peer-urls=http://${host}:${port + 1000}`,
      `--initial-advertise-peer-urls=http://${host}:${port + 1000}`,
      `--initial-cluster=t=http://${host}:${port + 1000}`,
    ],
    { stdio: 'ignore' },
  )
  t.teardown(() => {
    etcd.kill('SIGKILL')
  })
  const j = await jail(t, { SERVICETAG: 'replica', DCS: 'etcd', ETCDHOSTS: `${host}:${port}` })
  const n = j.s.calls().length
  const done = startJail(j.params(), j.opts({ timeouts: { clusterExistsMs: 20_000, patroniLiveMs: 10_000 } }))
  await sleep(1500)
  t.notOk(j.s.calls().slice(n).includes('service patroni start'), 'no Patroni while etcd has no cluster')
  const put = spawnSync(
    'etcdctl',
    [`--endpoints=http://${host}:${port}`, 'put', '/service/postgresql/initialize', '1'],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    },
  )
  t.equal(put.status, 0, put.stderr)
  const r = await done
  t.same(
    r.started,
    ['syslogd', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'],
    'no consul with DCS=etcd',
  )
  t.notOk(j.s.calls().some((c) => c.includes('consul')))

  // With ETCDPROXY the cook asks etcd where Patroni does, through the proxy: ETCDHOSTS may be out of reach.
  const proxied = await jail(t, {
    SERVICETAG: 'replica',
    DCS: 'etcd',
    ETCDHOSTS: `${host}:${port + 2}`,
    ETCDPROXY: `${host}:${port}`,
  })
  const p = await startJail(proxied.params(), proxied.opts({ timeouts: { clusterExistsMs: 5000 } }))
  t.same(
    p.started,
    ['syslogd', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'],
    'the cluster was found through ETCDPROXY',
  )
  t.match(
    proxied.logText(),
    new RegExp(`SERVICETAG=replica: waiting until cluster "postgresql" exists in etcd`),
  )
})

t.test('a wait that times out names what did not come up, where it asked, and its log', async (t) => {
  const silent = await jail(t)
  silent.consul.leader = ''
  const e1 = (await startJail(silent.params(), silent.opts({ timeouts: { consulLeaderMs: 300 } })).catch(
    (e: unknown) => e,
  )) as CookError
  t.ok(e1 instanceof CookError)
  t.equal(e1.code, 'SERVICE_FAILED')
  t.match(
    e1.message,
    /^the Consul agent \(a cluster leader\) did not come up within 0\.3 s \(asked http:\/\/127\.0\.0\.1:\d+\/v1\/status\/leader; last: not ready\); see \/var\/log\/consul\/ and the servers in CONSULSERVERS$/,
  )
  t.notOk(silent.s.calls().includes('service patroni start'), 'nothing after consul was started')
  t.notOk(existsSync(join(silent.root, 'usr/local/etc/pot-is-seasoned')))

  const deaf = await jail(t)
  rmSync(join(deaf.s.state, 'patroni.listen')) // the patroni stand-in now starts without a REST API
  const e2 = (await startJail(
    deaf.params(),
    deaf.opts({ patroniHttp: `http://${deaf.raw.MYIP}:8008`, timeouts: { patroniLiveMs: 500 } }),
  ).catch((e: unknown) => e)) as CookError
  t.match(
    e2.message,
    /^Patroni's REST API did not come up within 0\.5 s \(asked http:\/\/127\.\d+\.\d+\.\d+:8008\/liveness; last: .*\); see \/var\/log\/patroni\/patroni\.log$/,
  )

  const lonely = await jail(t, { SERVICETAG: 'replica' })
  const e3 = (await startJail(lonely.params(), lonely.opts({ timeouts: { clusterExistsMs: 300 } })).catch(
    (e: unknown) => e,
  )) as CookError
  t.match(
    e3.message,
    /^cluster "postgresql" did not come up within 0\.3 s \(asked \/service\/postgresql\/initialize or \/service\/postgresql\/leader via http:\/\/127\.0\.0\.1:\d+\/v1\/kv; last: not ready\); see the master member's \/var\/log\/cook\.log/,
  )

  const broken = await jail(t)
  broken.s.fail('consul', 'start')
  const e4 = (await startJail(broken.params(), broken.opts()).catch((e: unknown) => e)) as CookError
  t.match(
    e4.message,
    /^command failed: \S+\/service consul start\nexit code: 1\nstderr: consul: start failed/,
  )
})

t.test('Nomad mode: --nomad or NOMAD_ALLOC_ID', async (t) => {
  t.equal(isNomadMode({ nomad: true }, {}), true)
  t.equal(isNomadMode({}, { NOMAD_ALLOC_ID: '5f3c0e1a-0000' }), true)
  t.equal(isNomadMode({}, { NOMAD_ALLOC_ID: '' }), false)
  t.equal(isNomadMode({}, {}), false)
})

/** A cook in the foreground over a running patroni stand-in; signals come from the returned emitter. */
async function foreground(t: Test, stopBoundMs: number) {
  const j = await jail(t)
  // As the start left it: the rendered rc.d/patroni, enabled (rc.subr starts no service whose rcvar is not YES).
  apply(plan(j.params()), { root: j.root, owners: 'record' })
  await j.s.sys.sysrcEnsure('patroni_enable', 'YES')
  await j.s.sys.service('patroni', 'start')
  const signals = new EventEmitter()
  const stopping = statePaths(j.root).stopping
  const code = stayInForeground({
    sys: j.s.sys,
    log: j.opts().log,
    stopping,
    stopBoundMs,
    pollMs: 50,
    signals,
  })
  return { j, signals, stopping, code }
}

t.test('Nomad mode: Patroni dying on its own ends cook with 1, so Nomad restarts the task', async (t) => {
  const { j, signals, code } = await foreground(t, 2000)
  await sleep(200)
  j.s.killAll()
  t.equal(await code, 1)
  t.match(
    j.out.join('\n'),
    /Patroni is no longer running \(see \/var\/log\/patroni\/patroni\.log\); exiting 1/,
  )
  t.equal(signals.listenerCount('SIGTERM'), 0, 'signal handlers removed')
})

t.test('Nomad mode: on SIGTERM cook waits for Patroni to finish, then exits 0', async (t) => {
  const f = await foreground(t, 5000)
  const { j, signals } = f
  let finished = false
  const code = f.code.then((c) => {
    finished = true
    return c
  })
  await sleep(150)
  signals.emit('SIGTERM')
  await sleep(300)
  t.notOk(finished, 'still waiting while Patroni runs')
  await j.s.sys.service('patroni', 'stop')
  t.equal(await code, 0)
  t.match(j.out.join('\n'), /received SIGTERM: waiting up to 5 s for Patroni to finish/)
  t.match(j.out.join('\n'), /Patroni has exited; exiting 0/)
})

t.test('Nomad mode: Patroni stopped by `cook stop` is no crash', async (t) => {
  const { j, signals, stopping, code } = await foreground(t, 5000)
  await sleep(150)
  mkdirSync(join(j.root, 'var/run'), { recursive: true })
  writeFileSync(stopping, '1\n')
  await j.s.sys.service('patroni', 'stop')
  await sleep(300)
  signals.emit('SIGINT')
  t.equal(await code, 0)
  t.match(j.out.join('\n'), /Patroni stopped by `cook stop`: the jail is stopping/)
  t.notMatch(j.out.join('\n'), /exiting 1/)
})
