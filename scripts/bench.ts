// npm run bench: measures the cook and the cluster it configures, prints a table and writes
// bench/results.json. Figures are medians with min-max over several runs, on this machine.
// Usage: npm run bench -- [--runs N] [--quick] [--only cook,formation,failover,planned,jailstop,loss,memory,backup,tls,monitoring]
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { httpCall, type TlsClient } from '../cook/https.js'
import { commandLine } from '../cook/shell.js'
import { exporterUrl } from '../cook/monitoring.js'
import { metricsAuthHeader, nodeExporterUrl } from '../cook/exporter-web.js'
import type { RawParams } from '../cook/params.js'
import { patroniUrl } from '../cook/probes.js'
import { DEVELOPMENT, withBenchTable } from './docs.js'
import { Cluster, FAST, type Member } from './lib/cluster.js'
import { benchBackup } from './lib/bench-backup.js'
import { missingDeps } from './lib/deps.js'
import { jailStop } from './lib/jail-stop.js'
import { freeBlock } from './lib/netblock.js'
import { PG_BIN, sslEnv } from './lib/pg.js'
import { descendants, sleep } from './lib/procs.js'
import { Writer } from './lib/writer.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
})
const RUNS = Number(values.runs)
const QUICK = values.quick === true
const ONLY = values.only ? new Set(values.only.split(',')) : undefined
const want = (name: string) => !ONLY || ONLY.has(name)

const DEFAULT: RawParams = { TTL: '30', LOOPWAIT: '10', RETRYTIMEOUT: '10' }

interface Figure {
  section: string
  name: string
  unit: string
  median: number
  min: number
  max: number
  runs: number
  target?: string
  met?: boolean
  note?: string
}

const figures: Figure[] = []
/** The section being measured: --only re-runs some sections and keeps the others' last figures. */
let section = ''

function summarize(samples: number[]): { median: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
  return { median, min: s[0] ?? 0, max: s[s.length - 1] ?? 0 }
}

function record(
  name: string,
  unit: string,
  samples: number[],
  target?: { text: string; ok: (median: number) => boolean },
  note?: string,
): Figure {
  const f: Figure = { section, name, unit, ...summarize(samples), runs: samples.length }
  if (target) {
    f.target = target.text
    f.met = target.ok(f.median)
  }
  if (note) f.note = note
  figures.push(f)
  console.log(`  ${line(f)}`)
  return f
}

const DECIMALS: Record<string, number> = { s: 2, ms: 0, rows: 0, MB: 1, tps: 0 }

function fmt(n: number, unit: string): string {
  return n.toFixed(DECIMALS[unit] ?? 2)
}

function markdownTable(list: Figure[]): string {
  const rows = list.map((f) => {
    const target = [f.target ? `${f.target} ${f.met ? '✓' : '✗'}` : '', f.note ?? '']
      .filter(Boolean)
      .join('; ')
    return `| ${f.name} | ${fmt(f.median, f.unit)} ${f.unit} | ${fmt(f.min, f.unit)}–${fmt(f.max, f.unit)} (${f.runs}) | ${target} |`
  })
  return ['| figure | median | min–max (runs) | target |', '|---|---|---|---|', ...rows].join('\n')
}

function line(f: Figure): string {
  const range = f.runs > 1 ? ` (${fmt(f.min, f.unit)}–${fmt(f.max, f.unit)}, n=${f.runs})` : ''
  const target = f.target ? `  target ${f.target}: ${f.met ? 'met' : 'MISSED'}` : ''
  return `${f.name}: ${fmt(f.median, f.unit)} ${f.unit}${range}${target}${f.note ? `  [${f.note}]` : ''}`
}

/** Wall time of a whole process in ms, and its peak RSS in MB (GNU time's %M). */
function timeProcess(argv: string[]): { ms: number; rssMb: number } {
  const t0 = process.hrtime.bigint()
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${commandLine(argv)} failed: ${r.stderr}`)
  const kb = Number(r.stderr.trim().split('\n').pop())
  return { ms, rssMb: kb / 1024 }
}

function benchCook(): void {
  console.log('cook overhead (whole process, bundle dist/cook.mjs):')
  const work = mkdtempSync(join(tmpdir(), 'bench-cook-'))
  // The fixture holds secrets: cook takes them only from a 0600 file owned by root (README, "Security").
  const envFile = join(work, 'basic.env')
  copyFileSync('test/fixtures/basic.env', envFile)
  chmodSync(envFile, 0o600)
  const samples = { node: [] as number[], render: [] as number[], check: [] as number[], rss: [] as number[] }
  const n = Math.max(RUNS * 4, 10)
  for (let i = 0; i < n + 2; i++) {
    const root = join(work, `r${i}`)
    const a = timeProcess([process.execPath, '-e', '0'])
    const b = timeProcess([
      process.execPath,
      'dist/cook.mjs',
      'render',
      '--root',
      root,
      '--env-file',
      envFile,
      '--owners',
      'record',
    ])
    const c = timeProcess([
      process.execPath,
      'dist/cook.mjs',
      'check',
      '--env-file',
      envFile,
      '--environment-sh',
      '/nonexistent',
    ])
    rmSync(root, { recursive: true, force: true })
    if (i < 2) continue // warm the page cache first
    samples.node.push(a.ms)
    samples.render.push(b.ms)
    samples.check.push(c.ms)
    samples.rss.push(b.rssMb)
  }
  rmSync(work, { recursive: true, force: true })
  const node = record('node -e 0', 'ms', samples.node)
  record('cook render (one member, fresh root)', 'ms', samples.render)
  record('cook check', 'ms', samples.check)
  const ratios = samples.render.map((ms, i) => ms / (samples.node[i] ?? ms))
  // The scrypt of KEKPASS (cook/secrets.ts KDF: 32 MiB, about 0.15 s here) is paid on purpose, once per run:
  // it is what a leaked derived password costs an attacker per guess (README, "Security"). Before it the
  // targets were 2.0 x and 80 MB.
  record(
    'cook render / node -e 0',
    'x',
    ratios,
    { text: '<= 4.0', ok: (m) => m <= 4.0 },
    `node -e 0 median ${fmt(node.median, 'ms')} ms; includes one scrypt of KEKPASS`,
  )
  record('cook render peak RSS', 'MB', samples.rss, { text: '<= 96 MB', ok: (m) => m <= 96 })
}

let serial = 0

/**
 * Runs `fn` on a fresh cluster (its own free loopback block and scope, so no run sees another's keys or
 * ports), destroyed afterwards. `renderMs` is the time the cook's plan/apply took for all members.
 */
async function withCluster<T>(
  label: string,
  params: RawParams,
  fn: (c: Cluster, renderMs: number) => Promise<T>,
  agent?: 'gateway',
  exporters = false,
): Promise<T> {
  serial += 1
  const net = await freeBlock('127.43')
  const dir = mkdtempSync(join(tmpdir(), `bench-${label}-`))
  const t0 = Date.now()
  const c = new Cluster({
    scope: `bench-${label}-${serial}`,
    dir,
    net,
    params,
    ...(agent ? { agent } : {}),
    ...(exporters ? { exporters } : {}),
  })
  const renderMs = Date.now() - t0
  try {
    return await fn(c, renderMs)
  } finally {
    await c.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Seconds from t0 until any member accepts a write. */
async function firstWrite(c: Cluster, t0: number): Promise<number> {
  const leader = await c.waitNewLeader(undefined, 120000)
  await c.query(c.memberConn(leader), 'CREATE TABLE IF NOT EXISTS bench_probe (at timestamptz DEFAULT now())')
  return (Date.now() - t0) / 1000
}

async function benchFormation(): Promise<void> {
  console.log('cluster formation (3 members, fast profile 10/2/4):')
  const write: number[] = []
  const streaming: number[] = []
  for (let i = 0; i < Math.max(2, Math.ceil(RUNS / 2)); i++) {
    await withCluster('form', FAST, async (c, renderMs) => {
      // The cook's render of the three members happened in the constructor: count it in.
      const t0 = Date.now() - renderMs
      await c.start()
      write.push(await firstWrite(c, t0))
      await c.waitFormed(120000)
      streaming.push((Date.now() - t0) / 1000)
    })
  }
  record('cook render -> leader accepts writes', 's', write)
  record('cook render -> both replicas streaming', 's', streaming)
}

/** Kills (or stops) the leader `runs` times in one cluster, re-forming between runs. */
async function failovers(
  label: string,
  params: RawParams,
  runs: number,
  how: (c: Cluster, m: Member) => Promise<void>,
): Promise<{ failover: number[]; route: number[] }> {
  const failover: number[] = []
  const route: number[] = []
  await withCluster(label, params, async (c) => {
    await c.start()
    await c.waitFormed(180000)
    for (let i = 0; i < runs; i++) {
      const { leader } = await c.waitFormed(180000)
      await c.waitPrimaryRoute(leader, 60000)
      const t0 = Date.now()
      await how(c, leader)
      const next = await c.waitNewLeader(leader, 180000)
      const t1 = Date.now()
      failover.push((t1 - t0) / 1000)
      await c.waitPrimaryRoute(next, 60000)
      route.push((Date.now() - t1) / 1000)
      c.startMember(leader)
    }
    await c.waitFormed(180000)
  })
  return { failover, route }
}

async function benchFailover(): Promise<void> {
  const kill = (c: Cluster, m: Member) => c.kill(m)
  const stop = (c: Cluster, m: Member) => c.stop(m)
  const n = QUICK ? 1 : Math.max(2, Math.ceil(RUNS / 2))
  console.log(
    "unplanned failover (SIGKILL of the leader's Patroni and PostgreSQL) -> new leader accepts writes:",
  )
  const fastKill = await failovers('kill-fast', FAST, Math.max(n, 3), kill)
  record('failover, fast 10/2/4', 's', fastKill.failover, { text: '<= 10 s', ok: (m) => m <= 10 })
  const defKill = await failovers('kill-default', DEFAULT, n, kill)
  record('failover, default 30/10/10', 's', defKill.failover, {
    text: '<= ttl + loop_wait = 40 s',
    ok: (m) => m <= 40,
  })
  console.log("planned stop (SIGTERM to the leader's Patroni) -> new leader accepts writes:")
  const fastStop = await failovers('stop-fast', FAST, Math.max(n, 3), stop)
  record('planned stop, fast 10/2/4', 's', fastStop.failover, { text: '<= 5 s', ok: (m) => m <= 5 })
  const defStop = await failovers('stop-default', DEFAULT, n, stop)
  record(
    'planned stop, default 30/10/10',
    's',
    defStop.failover,
    { text: '<= 5 s', ok: (m) => m <= 5 },
    'against the hard kill above',
  )
  console.log('HAProxy (:5000 follows the new leader):')
  record(
    'new leader -> :5000 routes to it',
    's',
    [...fastKill.route, ...defKill.route, ...fastStop.route, ...defStop.route],
    { text: '<= 1 s', ok: (m) => m <= 1 },
  )
}

/**
 * What `jail -r` does to the leader's jail, each member reaching etcd through its own gateway (the stand-in
 * for the in-jail Consul agent): with exec.stop = `cook stop` (stop.timeout 30 s), and without it (pot
 * older than 0.16.0: SIGTERM to everything at once, SIGKILL after the default 10 s). Runs alternate in one
 * cluster, re-forming in between.
 */
async function benchJailStop(): Promise<void> {
  const n = QUICK ? 1 : Math.max(3, Math.ceil(RUNS / 2))
  console.log('jail stop of the leader (jail -r, fast 10/2/4) -> new leader accepts writes:')
  const hook: number[] = []
  const bare: number[] = []
  await withCluster(
    'jailstop',
    FAST,
    async (c) => {
      await c.start()
      for (let i = 0; i < n; i++)
        for (const withHook of [true, false]) {
          const { leader } = await c.waitFormed(180000)
          const t0 = Date.now()
          const stopping = jailStop(c, leader, { hook: withHook, stopTimeoutS: withHook ? 30 : 10 })
          await c.waitNewLeader(leader, 180000)
          ;(withHook ? hook : bare).push((Date.now() - t0) / 1000)
          await stopping
          c.startMember(leader)
        }
      await c.waitFormed(180000)
    },
    'gateway',
  )
  record('jail stop with cook stop (exec.stop), fast 10/2/4', 's', hook, {
    text: '<= 5 s',
    ok: (m) => m <= 5,
  })
  record(
    'jail stop without the hook, fast 10/2/4',
    's',
    bare,
    { text: '≈ ttl (10 s)', ok: (m) => m >= 5 && m <= 10 + 2 + 2 },
    'the leader key expires: nobody can delete it',
  )
}

/**
 * Acknowledged writes lost over `rounds` unplanned failovers. In sync mode the next kill waits for a
 * confirmed synchronous standby: without that wait even sync mode (not strict) can lose commits.
 */
async function lossOver(
  label: string,
  params: RawParams,
  rounds: number,
): Promise<{ lost: number; acked: number }> {
  return withCluster(label, params, async (c) => {
    const sync = params.SYNCMODE !== undefined && params.SYNCMODE !== 'off'
    await c.start()
    let { leader } = await c.waitFormed(120000)
    if (sync) await c.waitSyncStandby(leader)
    await c.waitPrimaryRoute(leader, 60000)
    const writer = new Writer(c, 'acks')
    await writer.start()
    try {
      for (let i = 0; i < rounds; i++) {
        await sleep(1500)
        await c.kill(leader)
        const next = await c.waitNewLeader(leader, 120000)
        await c.waitPrimaryRoute(next, 60000)
        c.startMember(leader)
        await c.waitFormed(120000)
        if (sync) await c.waitSyncStandby(next)
        leader = next
      }
      await sleep(1000)
    } finally {
      await writer.stop()
    }
    const { missing } = await writer.lost(c.memberConn(leader))
    return { lost: missing.length, acked: writer.acked.length }
  })
}

async function benchLoss(): Promise<void> {
  const rounds = QUICK ? 2 : 3
  console.log(`zero loss: acknowledged writes lost over ${rounds} unplanned failovers (fast profile):`)
  const sync = await lossOver('loss-sync', { ...FAST, SYNCMODE: 'on' }, rounds)
  record(
    'lost, SYNCMODE=on',
    'rows',
    [sync.lost],
    { text: '0', ok: (m) => m === 0 },
    `${sync.acked} acknowledged`,
  )
  const async_ = await lossOver('loss-async', FAST, rounds)
  record(
    'lost, SYNCMODE=off',
    'rows',
    [async_.lost],
    undefined,
    `${async_.acked} acknowledged; reported, no target`,
  )
}

/** Proportional set size (kB) of a process, from /proc/PID/smaps_rollup. */
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

const execFileAsync = promisify(execFile)

/** pgbench through HAProxy :5000 as the admin role; with TLS the client verifies the server (verify-full). */
async function pgbench(c: Cluster, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    `${PG_BIN}/pgbench`,
    ['-h', c.haproxyHost, '-p', '5000', '-U', 'postgres', ...args, 'postgres'],
    {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSFILE: c.pgpass, ...sslEnv(c.clientSsl()) },
      timeout: 120000,
    },
  )
  return stdout
}

/**
 * The price of TLS: pgbench tps through :5000 with TLS (verify-full) and in plain text (a TLS=off cluster),
 * with one connection per client for the run and with a new connection per transaction (-C, where every
 * transaction pays a TLS handshake); and the failover figures of a TLS cluster beside a plain one.
 */
async function benchTls(): Promise<void> {
  const n = QUICK ? 1 : Math.max(3, RUNS)
  const secs = QUICK ? 5 : 10
  console.log(
    `pgbench -S through :5000 (select-only, scale 1, 4 clients, ${secs} s, ${n} runs, TLS and plain clusters side by side):`,
  )
  const tps: Record<string, number[]> = {}
  const ready = async (c: Cluster) => {
    await c.start()
    const { leader } = await c.waitFormed(180000)
    await c.waitPrimaryRoute(leader, 60000)
    await pgbench(c, ['-i', '-s', '1', '-q'])
  }
  // Both clusters run at once and the runs alternate, so that the load of a shared machine falls on both.
  await withCluster('pgbench-tls', FAST, async (tls) => {
    await ready(tls)
    await withCluster('pgbench-plain', { ...FAST, TLS: 'off' }, async (plain) => {
      await ready(plain)
      for (let i = 0; i < n; i++)
        for (const connect of [false, true])
          for (const [label, c] of [
            ['tls', tls],
            ['plain', plain],
          ] as const) {
            const out = await pgbench(c, [
              '-S',
              '-c',
              '4',
              '-j',
              '2',
              '-T',
              String(secs),
              ...(connect ? ['-C'] : []),
            ])
            // The first tps line: PostgreSQL 14+ prints one ("without initial connection time", or
            // "including reconnection times" with -C), older ones print two.
            const m = /^tps = ([\d.]+)/m.exec(out)
            if (!m) throw new Error(`pgbench printed no tps:\n${out}`)
            ;(tps[`${label}${connect ? '-C' : ''}`] ??= []).push(Number(m[1]))
          }
    })
  })
  const ratio = (a: number[] = [], b: number[] = []) => a.map((x, i) => x / (b[i] ?? x))
  record('pgbench -S tps :5000, TLS verify-full', 'tps', tps.tls ?? [])
  record('pgbench -S tps :5000, plain (TLS=off)', 'tps', tps.plain ?? [])
  record('pgbench -S tps :5000, TLS / plain', 'x', ratio(tps.tls, tps.plain), undefined, 'run by run')
  record('pgbench -S -C tps :5000 (connect per transaction), TLS', 'tps', tps['tls-C'] ?? [])
  record('pgbench -S -C tps :5000 (connect per transaction), plain', 'tps', tps['plain-C'] ?? [])
  record(
    'pgbench -S -C tps :5000, TLS / plain',
    'x',
    ratio(tps['tls-C'], tps['plain-C']),
    undefined,
    'a TLS handshake per transaction',
  )

  const kill = (c: Cluster, m: Member) => c.kill(m)
  const stop = (c: Cluster, m: Member) => c.stop(m)
  const runs = QUICK ? 1 : 3
  console.log('failover with TLS on (fast 10/2/4), beside the same with TLS=off:')
  for (const [label, params] of [
    ['tls', FAST],
    ['plain', { ...FAST, TLS: 'off' }],
  ] as const) {
    const k = await failovers(`tls-kill-${label}`, params, runs, kill)
    record(`unplanned failover, fast, ${label}`, 's', k.failover, { text: '<= 10 s', ok: (m) => m <= 10 })
    const p = await failovers(`tls-stop-${label}`, params, runs, stop)
    record(`planned stop, fast, ${label}`, 's', p.failover, { text: '<= 5 s', ok: (m) => m <= 5 })
  }
}

async function benchMemory(): Promise<void> {
  console.log('memory of the three-member cluster while idle (PSS):')
  const members: number[] = []
  const all: number[] = []
  for (let i = 0; i < 2; i++) {
    await withCluster('mem', FAST, async (c) => {
      await c.start()
      await c.waitFormed(120000)
      await new Promise((r) => setTimeout(r, 5000))
      const memberPids = c.members.flatMap((m) => c.memberPids(m))
      const others = [c.etcd?.proc.pid, c.haproxy?.pid].filter((p): p is number => p !== undefined)
      const otherPids = [...others, ...others.flatMap((p) => descendants(p))]
      const mb = (pids: number[]) => [...new Set(pids)].reduce((sum, p) => sum + pssKb(p), 0) / 1024
      members.push(mb(memberPids))
      all.push(mb([...memberPids, ...otherPids]))
    })
  }
  record('3 members (Patroni + PostgreSQL)', 'MB', members)
  record('3 members + etcd + HAProxy', 'MB', all)
}

/** Resident set size (kB) of a process, from /proc/PID/status. */
function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/** Milliseconds for one whole GET of a metrics endpoint, body read; HTTPS (Patroni with TLS) with a handshake. */
async function scrapeMs(url: string, tls?: TlsClient, headers?: Record<string, string>): Promise<number> {
  const t0 = performance.now()
  const res = await httpCall(url, { tls, timeoutMs: 10000, ...(headers ? { headers } : {}) })
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`)
  return performance.now() - t0
}

async function benchMonitoring(): Promise<void> {
  console.log(
    'what monitoring adds per member (postgres_exporter, node_exporter), and one scrape of each endpoint:',
  )
  const pgPss: number[] = []
  const nodePss: number[] = []
  const rss: number[] = []
  const scrapes: Record<string, number[]> = { patroni: [], postgres: [], node: [] }
  for (let i = 0; i < 2; i++) {
    await withCluster(
      'mon',
      FAST,
      async (c) => {
        await c.start()
        await c.waitFormed(120000)
        // A first scrape of each, so the exporters have connected and warmed up, as under Prometheus.
        for (const m of c.members) {
          await scrapeMs(`${patroniUrl(m.params)}/metrics`, c.tls?.client)
          await scrapeMs(`${exporterUrl(m.params)}/metrics`, c.tls?.client, metricsAuthHeader(m.params))
        }
        await new Promise((r) => setTimeout(r, 3000))
        for (const m of c.members) {
          const pg = m.exporter?.pid
          const node = m.nodeExporter?.pid
          if (pg === undefined || node === undefined) throw new Error(`${m.name}: exporters not running`)
          pgPss.push(pssKb(pg) / 1024)
          nodePss.push(pssKb(node) / 1024)
          rss.push((rssKb(pg) + rssKb(node)) / 1024)
          for (let k = 0; k < 5; k++) {
            scrapes.patroni?.push(await scrapeMs(`${patroniUrl(m.params)}/metrics`, c.tls?.client))
            // The exporters over HTTPS with basic auth (METRICSPASS), as Prometheus scrapes them.
            const auth = metricsAuthHeader(m.params)
            scrapes.postgres?.push(await scrapeMs(`${exporterUrl(m.params)}/metrics`, c.tls?.client, auth))
            scrapes.node?.push(await scrapeMs(`${nodeExporterUrl(m.params)}/metrics`, c.tls?.client, auth))
          }
        }
      },
      undefined,
      true,
    )
  }
  record('postgres_exporter PSS per member', 'MB', pgPss)
  record('node_exporter PSS per member', 'MB', nodePss)
  record('both exporters RSS per member', 'MB', rss)
  record('scrape Patroni /metrics', 'ms', scrapes.patroni ?? [])
  record('scrape postgres_exporter /metrics', 'ms', scrapes.postgres ?? [])
  record('scrape node_exporter /metrics', 'ms', scrapes.node ?? [])
}

function machine(): Record<string, string | number> {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? ''
    } catch {
      return 'unknown'
    }
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: version(`${PG_BIN}/postgres`, ['--version']),
    patroni: version('patroni', ['--version']),
    etcd: version('etcd', ['--version']),
    haproxy: version('haproxy', ['-v']),
    date: new Date().toISOString(),
  }
}

async function main(): Promise<void> {
  const missing = missingDeps()
  if (missing.length > 0) {
    console.error(`bench: missing ${missing.join(', ')}; run scripts/install-deps first`)
    process.exit(69)
  }
  const info = machine()
  console.log(
    `bench on ${info.cpu} (${info.cores} cores), ${info.node}; runs=${RUNS}${QUICK ? ' (quick)' : ''}\n`,
  )
  const sections: [string, () => void | Promise<void>][] = [
    ['cook', benchCook],
    ['formation', benchFormation],
    ['failover', benchFailover],
    ['jailstop', benchJailStop],
    ['loss', benchLoss],
    ['memory', benchMemory],
    ['backup', () => benchBackup({ runs: RUNS, quick: QUICK, withCluster, record })],
    ['tls', benchTls],
    ['monitoring', benchMonitoring],
  ]
  for (const [name, run] of sections) {
    if (!want(name)) continue
    section = name
    await run()
  }
  if (ONLY) {
    // Keep the figures of the sections this run skipped, from the last full run.
    try {
      const last = JSON.parse(readFileSync('bench/results.json', 'utf8')) as { figures: Figure[] }
      figures.unshift(...last.figures.filter((f) => !ONLY.has(f.section)))
    } catch {
      // no earlier results: this run's figures alone
    }
  }
  mkdirSync('bench', { recursive: true })
  const order = sections.map(([name]) => name)
  figures.sort((a, b) => order.indexOf(a.section) - order.indexOf(b.section))
  const table = markdownTable(figures)
  console.log(`\n${table}`)
  // DEVELOPMENT.md's Performance section shows the same table.
  writeFileSync(DEVELOPMENT, withBenchTable(readFileSync(DEVELOPMENT, 'utf8'), table))
  writeFileSync('bench/results.json', `${JSON.stringify({ machine: info, runs: RUNS, figures }, null, 2)}\n`)
  console.log('\nwritten to bench/results.json and the Performance section of DEVELOPMENT.md')
}

await main()
