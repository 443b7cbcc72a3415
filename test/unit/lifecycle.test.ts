// The jail's start, run on this Linux machine: FreeBSD's sysrc and service are recording stand-ins on PATH
// (test/standins.ts), the Consul agent's HTTP API is a loopback stand-in server, Patroni's REST API is a
// loopback HTTP responder that the `service` stand-in starts; etcd is the real etcd.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { EventEmitter } from 'node:events'
import t, { type Test } from 'tap'
import { isNomadMode } from '../../cook/commands/run.js'
import { CookError } from '../../cook/errors.js'
import { startJail, statePaths, stayInForeground, type StartOptions } from '../../cook/lifecycle.js'
import { StepLog } from '../../cook/log.js'
import { validate, type RawParams } from '../../cook/params.js'
import { basicEnv, cook, tempDir } from '../helpers.js'
import { consulStandIn, listenPatroni, standIns, type ConsulStandIn, type StandIns } from '../standins.js'

// Secrets with characters that break naive quoting, and long enough to be recognisable in any output.
const SECRETS = {
  ADMPASS: `adm'in "pa$$ word" \`x\``,
  KEKPASS: 'kek-S3cret-$(id)-&-#',
  CONSULTOKEN: '6f1b2c3d-aaaa-bbbb-cccc-0123456789ab',
}

let nextHost = 1
interface Jail {
  root: string
  s: StandIns
  consul: ConsulStandIn
  out: string[]
  raw: Record<string, string>
  opts: (extra?: Partial<StartOptions>) => StartOptions
  params: (over?: Record<string, string>) => ReturnType<typeof validate>
  logText: () => string
}

/** A jail root, stand-ins, and a Consul stand-in that knows a leader; MYIP is a loopback address of its own. */
async function jail(t: Test, over: Record<string, string> = {}): Promise<Jail> {
  const root = tempDir(t, 'cook-jail-')
  const s = standIns(tempDir(t, 'cook-standins-'))
  const consul = await consulStandIn()
  t.teardown(async () => {
    s.killAll()
    await consul.close()
  })
  const myip = `127.0.12.${nextHost++}`
  listenPatroni(s, myip)
  const out: string[] = []
  const raw = { ...basicEnv(), ...SECRETS, MYIP: myip, ...over }
  const log = new StepLog({ out: (l) => out.push(l), file: statePaths(root).cookLog })
  return {
    root,
    s,
    consul,
    out,
    raw,
    opts: (extra = {}) => ({
      sys: s.sys,
      log,
      root,
      owners: 'record',
      consulHttp: consul.url,
      pollMs: 50,
      timeouts: { consulLeaderMs: 5000, patroniLiveMs: 10_000, clusterExistsMs: 5000 },
      ...extra,
    }),
    params: (o = {}) => validate({ ...raw, ...o } as RawParams, { allowLoopback: true }),
    logText: () => readFileSync(statePaths(root).cookLog, 'utf8'),
  }
}

/** Every file under the root with a hash of its content, its mode and mtime: what "no change" compares. */
function snapshot(root: string, skip = [statePaths('/').cookLog]): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name)
      const st = statSync(full)
      const rel = `/${relative(root, full)}`
      if (skip.includes(rel)) continue
      if (st.isDirectory()) {
        out[rel] = `dir ${st.mode.toString(8)}`
        walk(full)
      } else
        out[rel] =
          `${createHash('sha256').update(readFileSync(full)).digest('hex')} ${st.mode.toString(8)} ${st.mtimeMs}`
    }
  }
  walk(root)
  return out
}

/** The calls that change something: sysrc writes and service actions other than status. */
const actions = (calls: string[]) =>
  calls.filter((c) => !c.startsWith('sysrc -q -n ') && !/^service \S+ status$/.test(c))

t.test(
  'first start: render, rc.conf, then consul, patroni, node_exporter in order; marker last',
  async (t) => {
    const j = await jail(t)
    const r = await startJail(j.params(), j.opts())
    t.equal(r.kind, 'first')
    t.same(r.started, ['consul', 'patroni', 'node_exporter'])
    const myip = j.raw.MYIP
    t.same(actions(j.s.calls()), [
      'sysrc consul_enable=YES',
      'sysrc consul_dir=/var/db/consul',
      'service consul start',
      'sysrc patroni_enable=YES',
      'sysrc patroni_config=/usr/local/etc/patroni/patroni.yml',
      'sysrc patroni_stop_timeout=25',
      'service patroni start',
      'sysrc node_exporter_enable=YES',
      `sysrc node_exporter_listen_address=${myip}:9100`,
      'service node_exporter start',
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
    t.same(Object.keys(marker.services), ['consul', 'patroni', 'node_exporter'])
    t.equal(statSync(join(j.root, 'var/db/cook/digest.key')).mode & 0o777, 0o600)

    const log = j.logText()
    t.same(log.trimEnd().split('\n'), j.out, 'the log file holds what stdout got')
    const steps = log.split('\n').filter((l) => / Step \d+: /.test(l))
    t.ok(steps.length >= 8)
    for (const [i, line] of steps.entries())
      t.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z Step ${i + 1}: `))
    t.match(log, /Consul leader: 10\.0\.0\.2:8300/)
    t.match(log, /Patroni answers http:\/\/127\.0\.12\.\d+:8008\/liveness/)
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

  n = j.s.calls().length
  r = await startJail(j.params({ TTL: '40', DATACENTER: 'dc2', ADMPASS: 'another admin password' }), j.opts())
  t.equal(r.kind, 'reseason')
  t.same(r.refreshed, [], 'the admin role only matters at bootstrap')
  t.same(actions(j.s.calls().slice(n)), [])
  t.match(j.logText(), /\(a secret parameter\): reseasoning/)
  t.match(j.logText(), /only take effect when the cluster is first created/)

  n = j.s.calls().length
  r = await startJail(j.params({ TTL: '40', DATACENTER: 'dc2', ADMPASS: 'another admin password' }), j.opts())
  t.equal(r.kind, 'unchanged', 'the reseason was recorded')
  t.same(actions(j.s.calls().slice(n)), [])
})

t.test('a start killed midway converges on the next start', async (t) => {
  const j = await jail(t)
  const hold = j.s.block('patroni', 'start')
  const tsImport = process.execArgv.find((a) => a.includes('@tapjs/typescript'))
  const child = spawn(
    process.execPath,
    [
      ...(tsImport ? [tsImport] : []),
      new URL('../fixtures/start-driver.ts', import.meta.url).pathname,
      JSON.stringify({ raw: j.raw, root: j.root, env: j.s.env, consulHttp: j.consul.url }),
    ],
    { detached: true, stdio: 'ignore' },
  )
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
  for (let i = 0; i < 400 && !hold.blocked(); i++) await sleep(50)
  t.ok(hold.blocked(), 'the start reached `service patroni start`')
  process.kill(-child.pid!, 'SIGKILL')
  t.equal(await exited, 'SIGKILL')
  hold.release()
  t.notOk(existsSync(join(j.root, 'usr/local/etc/pot-is-seasoned')), 'no marker after a killed start')
  t.ok(j.s.running('consul'), 'consul was started before the kill and still runs')
  t.notOk(j.s.running('patroni'))

  const n = j.s.calls().length
  const r = await startJail(j.params(), j.opts())
  t.equal(r.kind, 'first', 'without a marker the start seasons again')
  t.same(r.started, ['patroni', 'node_exporter'])
  t.same(r.refreshed, ['consul'], 'a service running without a marker gets its configuration again')
  t.same(
    actions(j.s.calls().slice(n)).filter((c) => c.startsWith('sysrc')),
    ['sysrc node_exporter_enable=YES', `sysrc node_exporter_listen_address=${j.raw.MYIP}:9100`],
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
  t.same(r.started, ['consul', 'patroni', 'node_exporter'])
  t.ok(j.consul.requests.includes('GET /v1/kv/service/postgresql/leader'), 'the leader key counts too')
  t.ok(
    j.consul.tokens.length > 0 && j.consul.tokens.every((x) => x === SECRETS.CONSULTOKEN),
    'token in a header',
  )
  t.match(j.logText(), /SERVICETAG=replica: waiting until cluster "postgresql" exists in consul/)
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
  t.same(r.started, ['patroni', 'node_exporter'], 'no consul with DCS=etcd')
  t.notOk(j.s.calls().some((c) => c.includes('consul')))
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
    /^Patroni's REST API did not come up within 0\.5 s \(asked http:\/\/127\.0\.12\.\d+:8008\/liveness; last: .*\); see \/var\/log\/patroni\/patroni\.log$/,
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
  t.match(e4.message, /^command failed: service consul start\nexit code: 1\nstderr: consul: start failed/)
})

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

t.test('cook with no subcommand runs the start; invalid parameters are logged without secrets', async (t) => {
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
  const bare = await cook(['--bogus-option'])
  t.equal(bare.code, 64, 'options without a subcommand go to the start command')
  t.match(bare.err, /usage: cook \[--nomad\]/)
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
