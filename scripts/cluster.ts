// npm run cluster: a three-member Patroni cluster on this machine, rendered by the cook's own code, with etcd
// and HAProxy. It stays until Ctrl-C, then stops everything it started, by PID.
// Usage: npm run cluster [-- [--dir DIR] [--fast] [NAME=value ...]]   e.g. -- --fast SYNCMODE=on
// TLS is on by default, with a throwaway CA made at start; TLS=off runs the cluster in plain text.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CookError } from '../cook/errors.js'
import { PATHS } from '../cook/layout.js'
import { isParamKey, parseArgs as parseParamArgs } from '../cook/sources.js'
import type { RawParams } from '../cook/params.js'
import { Cluster, FAST, PRIMARY_PORT, REPLICA_PORT } from './lib/cluster.js'
import { backupScript, lastBackupLine } from './lib/backup.js'
import { missingDeps } from './lib/deps.js'
import { statusTable } from './lib/patroni.js'
import { isAlive, sleep } from './lib/procs.js'
import { startPrometheus } from './lib/prometheus.js'

/** Where `--prometheus` listens: beside HAProxy on the dev cluster's loopback addresses. */
const PROMETHEUS_LISTEN = '127.0.0.1:9090'

const say = (line = '') => process.stdout.write(`${line}\n`)
const fail = (lines: string[], code: number): never => {
  for (const line of lines) process.stderr.write(`cluster: ${line}\n`)
  process.exit(code)
}

function options(): { dir: string; params: RawParams; prometheus: boolean } {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        dir: { type: 'string' },
        fast: { type: 'boolean' },
        help: { type: 'boolean' },
        prometheus: { type: 'boolean' },
      },
      allowPositionals: true,
    })
  } catch (e) {
    return fail([(e as Error).message], 64)
  }
  if (parsed.values.help) {
    say('usage: npm run cluster [-- [--dir DIR] [--fast] [--prometheus] [NAME=value ...]]')
    say('  NAME=value  cook parameters for every member, e.g. SYNCMODE=on')
    say('  --dir DIR   the cluster folder (default: work/cluster); it is emptied at start')
    say(
      `  --fast      the tests' timing profile: ${Object.entries(FAST)
        .map(([k, v]) => `${k}=${v ?? ''}`)
        .join(' ')}`,
    )
    say('              (NAME=value still wins); without it the jail defaults')
    say('  --prometheus  also postgres_exporter and node_exporter per member, and Prometheus on')
    say(`               ${PROMETHEUS_LISTEN} with the shipped alert rules (monitoring/alerts.yml)`)
    process.exit(0)
  }
  const { vars, problems } = parseParamArgs(parsed.positionals)
  for (const key of Object.keys(vars))
    if (!isParamKey(key)) problems.push({ name: key, message: 'is not a parameter of the cook' })
  if (problems.length > 0)
    fail(
      problems.map((p) => `${p.name}: ${p.message}`),
      64,
    )
  return {
    dir: resolve(parsed.values.dir ?? 'work/cluster'),
    params: { ...(parsed.values.fast ? FAST : {}), ...(vars as RawParams) },
    prometheus: parsed.values.prometheus === true,
  }
}

/** Processes of an earlier run that still live: their command lines name the cluster folder. */
function earlierRun(dir: string): number[] {
  const file = `${dir}/pids`
  if (!existsSync(file)) return []
  const pids = readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number)
  return pids.filter((pid) => {
    try {
      return isAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)
    } catch {
      return false
    }
  })
}

let cluster: Cluster | undefined

async function main(): Promise<void> {
  const { dir, params, prometheus } = options()
  const missing = missingDeps()
  if (missing.length > 0) fail(missing, 69)
  const running = earlierRun(dir)
  if (running.length > 0)
    fail([`an earlier npm run cluster still runs in ${dir} (PIDs ${running.join(' ')}): stop it first`], 75)
  rmSync(dir, { recursive: true, force: true })

  try {
    // The application database the README's psql lines use; `-- DBNAME=...` names another.
    cluster = new Cluster({
      scope: 'dev',
      dir,
      net: '127.0.0',
      haproxyBind: '127.0.0.1',
      params: { DBNAME: 'app', ...params },
      exporters: prometheus,
    })
  } catch (e) {
    if (e instanceof CookError) fail(e.lines(), e.exitCode)
    throw e
  }
  const c = cluster
  // Whatever happens to this process, the processes it started do not outlive it.
  process.once('exit', () => c.procs.killAllNow())
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    say('\nStopping: Patroni members (replicas first), then HAProxy and etcd ...')
    const leader = await c.leaderName()
    const order = [
      ...c.members.filter((m) => m.name !== leader),
      ...c.members.filter((m) => m.name === leader),
    ]
    for (const m of order) await c.stop(m, 30000).catch((e: Error) => say(`  ${e.message}`))
    await c.destroy()
    say(`Stopped all ${c.procs.all.length} processes this run started.`)
    process.exit(0)
  }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())

  const t0 = Date.now()
  say(
    `Rendered ${c.members.length} members with the cook under ${dir}; starting etcd, Patroni and HAProxy ...`,
  )
  await c.start()
  writeFileSync(`${dir}/pids`, c.procs.all.map((p) => p.pid).join('\n'))
  const { leader } = await c.waitFormed(180000)
  await c.waitPrimaryRoute(leader)
  const prom = prometheus ? await startPrometheus(c, { listen: PROMETHEUS_LISTEN }) : undefined
  if (prom) writeFileSync(`${dir}/pids`, c.procs.all.map((p) => p.pid).join('\n'))
  const secs = ((Date.now() - t0) / 1000).toFixed(1)
  say(`Cluster formed in ${secs} s: leader ${leader.name}, ${c.members.length - 1} streaming replicas.`)
  say()
  say(`Connect (every role's password is in ${c.pgpass}, mode 0600):`)
  say(`  export PGPASSFILE=${c.pgpass}`)
  const ssl = c.tls ? ` sslmode=verify-full sslrootcert=${c.tls.ca.cert}` : ''
  const db = c.members[0]?.params.DBNAME ?? 'postgres'
  say(
    `  psql "host=127.0.0.1 port=${PRIMARY_PORT} user=admin dbname=${db}${ssl}"    # the primary, read-write`,
  )
  say(
    `  psql "host=127.0.0.1 port=${REPLICA_PORT} user=admin dbname=${db}${ssl}"    # the replicas, read-only`,
  )
  say(`  runuser -u postgres -- patronictl -c ${c.members[0]?.root}${PATHS.patroniYml} list    # as root`)
  const stanza = c.opts.scope
  if (leader.params.BACKUPREPO.type !== 'off') {
    // A first full backup, so that new members clone from the repository and a restore has a start.
    const b = await backupScript(leader, 'full')
    if (b.code !== 0) say(`First backup failed: ${b.stderr.trim()}`)
    const script = `${leader.root}/usr/local/libexec/cook-backup`
    say(`Backups: pgBackRest repository ${c.repoDir}, stanza ${stanza}; take one on the leader with`)
    say(`  setpriv --reuid=postgres --regid=postgres --clear-groups --reset-env ${script} full`)
  }
  if (c.tls)
    say(
      `TLS: a throwaway CA made at start (${c.tls.ca.cert}); PostgreSQL accepts only TLS, the REST API is HTTPS,\n` +
        `etcd wants client certificates. Unsafe REST calls need user patroni and RESTPASS (in each member's patroni.yml).`,
    )
  else say('TLS=off: everything is plain text, and no client can verify the server.')
  if (prom) {
    say(`Prometheus: ${prom.url} (alerts: ${prom.url}/alerts; configuration in ${prom.dir})`)
  }
  say(`Logs: ${c.logDir}/ and each member's var/log/patroni/. Ctrl-C stops everything.`)
  say()

  let shown = ''
  for (;;) {
    let text: string
    try {
      text = statusTable(c.opts.scope, await c.view())
    } catch (e) {
      text = `(no member answers: ${(e as Error).message})`
    }
    if (leader.params.BACKUPREPO.type !== 'off') text += `\n${await lastBackupLine(leader, stanza)}`
    if (text !== shown && !stopping) {
      say(`${new Date().toISOString()}\n${text}`)
      shown = text
    }
    await sleep(2000)
  }
}

await main().catch(async (e: Error) => {
  process.stderr.write(`cluster: ${e.message}\n`)
  await cluster?.destroy()
  fail(['stopped everything it had started'], 1)
})
