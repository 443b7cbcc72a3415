// The jail's start: season on first start (render, rc.conf, data directory), reseason when the parameters
// changed (only what changed is reloaded or restarted), then start the services in order and wait for
// each to come up. The seasoned marker is written last, so a start killed midway converges on the next.
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { apply, type Change } from './apply.js'
import type { FreeBsd } from './freebsd.js'
import type { StepLog } from './log.js'
import { JAIL_LAYOUT, PATHS, type Layout } from './layout.js'
import { SECRET_NAMES, type Params } from './params.js'
import { plan as makePlan, type Plan, type ServiceName } from './plan.js'
import {
  clusterExists,
  clusterWhere,
  consulLeader,
  CONSUL_HTTP,
  patroniLive,
  patroniUrl,
  tlsClient,
} from './probes.js'
import type { TlsClient } from './https.js'
import {
  forgetSuperuser,
  rememberedSuperuser,
  rememberSuperuser,
  renderedSuperuserPassword,
  ROLE_PASSWORDS,
  rotateRoles,
} from './rotate.js'
import { changedNames, digestKey, readMarker, wantedMarker, writeMarker, type Marker } from './seasoned.js'
import { VERSION } from './version.js'
import { verifyPlan } from './verify.js'
import { waitUntil } from './wait.js'

/** The cook's own state files; in the jail they are the PATHS under `/`. */
export interface StatePaths {
  seasoned: string
  digestKey: string
  cookLog: string
  /** Written by `cook stop`: tells a cook in the foreground that Patroni's exit is planned. */
  stopping: string
  /** The superuser password a start replaces, until the leader's roles have the new one. */
  previousSuperuser: string
}

export function statePaths(root = '/', override: Partial<StatePaths> = {}): StatePaths {
  return {
    seasoned: join(root, PATHS.seasoned),
    digestKey: join(root, PATHS.digestKey),
    cookLog: join(root, PATHS.cookLog),
    stopping: join(root, PATHS.stopping),
    previousSuperuser: join(root, PATHS.previousSuperuser),
    ...override,
  }
}

export interface Timeouts {
  /** The Consul agent joins its servers and learns the leader. */
  consulLeaderMs: number
  /** A replica waits for the master to create the cluster: the master may start much later. */
  clusterExistsMs: number
  /** Patroni's REST API answers (before PostgreSQL is up). */
  patroniLiveMs: number
  /** One `service NAME start|restart|reload`. */
  serviceMs: number
  /** The leader answers so that a changed password reaches its roles (a failover may be under way). */
  leaderMs: number
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  consulLeaderMs: 120_000,
  clusterExistsMs: 600_000,
  patroniLiveMs: 120_000,
  serviceMs: 120_000,
  leaderMs: 60_000,
}

export interface StartOptions {
  sys: FreeBsd
  log: StepLog
  /** The jail's `/`; a temporary directory in tests. */
  root?: string
  paths?: Partial<StatePaths>
  /** apply: chown to the plan's owners (the jail, as root); record: leave owners (tests). */
  owners?: 'apply' | 'record'
  consulHttp?: string
  /** Patroni's REST API; default http://MYIP:8008. */
  patroniHttp?: string
  timeouts?: Partial<Timeouts>
  pollMs?: number
  /** Where psql and the local PostgreSQL's socket are, for the leader's role check; the jail's by default. */
  pgLayout?: Layout
}

export type StartKind = 'first' | 'unchanged' | 'reseason'

export interface StartResult {
  kind: StartKind
  started: ServiceName[]
  refreshed: ServiceName[]
  changes: Change[]
}

/** How a running service takes a new configuration. */
const REFRESH: Record<ServiceName, 'reload' | 'restart'> = {
  // SIGHUP: Patroni re-reads patroni.yml without stopping PostgreSQL (what `patronictl reload` asks for).
  patroni: 'reload',
  // The agent's bind address, datacenter or ACLs are not reloadable.
  consul: 'restart',
  node_exporter: 'restart',
  // cron notices changed files in /usr/local/etc/cron.d by itself; a restart is harmless.
  cron: 'restart',
  // It reads its environment and password file only at start.
  postgres_exporter: 'restart',
}

export const LOGS: Record<ServiceName, string> = {
  consul: `${PATHS.consulLogDir}/`,
  patroni: `${PATHS.patroniLogDir}/patroni.log`,
  node_exporter: '/var/log/messages',
  cron: '/var/log/cron',
  postgres_exporter: '/var/log/messages',
}

export async function startJail(p: Params, opts: StartOptions): Promise<StartResult> {
  const { sys, log } = opts
  log.addSecrets(SECRET_NAMES.map((n) => p[n] as string | undefined))
  const root = opts.root ?? '/'
  const paths = statePaths(root, opts.paths)
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts }
  const pollMs = opts.pollMs ?? 1000
  const consulHttp = opts.consulHttp ?? CONSUL_HTTP
  const patroniHttp = opts.patroniHttp ?? patroniUrl(p)

  // A flag left by the `cook stop` of the previous run of this jail.
  rmSync(paths.stopping, { force: true })
  log.next(
    `cook ${VERSION}: parameters valid (NODENAME=${p.NODENAME}, SERVICETAG=${p.SERVICETAG}, DCS=${p.DCS}, SCOPE=${p.SCOPE})`,
  )

  const plan = makePlan(p)
  const key = digestKey(paths.digestKey)
  const wanted = wantedMarker(key, p, plan)
  const marker = readMarker(paths.seasoned)
  const kind: StartKind = !marker
    ? 'first'
    : marker.params === wanted.params && marker.secrets === wanted.secrets
      ? 'unchanged'
      : 'reseason'

  // A first start (a new jail: every Nomad start) or changed secrets may bring passwords the cluster's roles
  // do not have yet. The superuser password this jail had is read before the new files replace it.
  const checkRoles = kind === 'first' || (kind === 'reseason' && marker?.secrets !== wanted.secrets)
  const rendered = checkRoles ? renderedSuperuserPassword(join(root, PATHS.patroniYml)) : undefined
  const remembered = checkRoles ? rememberedSuperuser(paths.previousSuperuser) : undefined
  if (rendered !== undefined && rendered !== p.KEKPASS) rememberSuperuser(paths.previousSuperuser, rendered)

  let changes: Change[] = []
  if (kind === 'first') log.next(`first start: seasoning this jail (no valid ${PATHS.seasoned})`)
  if (kind === 'unchanged')
    log.next(`parameters unchanged since ${marker?.seasonedAt}: starting the services only`)
  if (kind === 'reseason' && marker) {
    const names = changedNames(marker.values, wanted.values)
    if (marker.secrets !== wanted.secrets) names.push('a secret parameter')
    log.next(
      `parameters changed since ${marker.seasonedAt} (${names.join(', ') || 'cook version'}): reseasoning`,
    )
  }
  if (kind !== 'unchanged') changes = render(plan, root, opts.owners ?? 'apply', log, kind)

  const started: ServiceName[] = []
  const refreshed: ServiceName[] = []
  for (const svc of plan.services) {
    const running = await sys.running(svc)
    // A replica must never reach Patroni's bootstrap: it would initialise a second, empty cluster.
    // rc.conf does not enable Patroni before this either, so /etc/rc cannot start it early.
    if (svc === 'patroni' && !running && p.SERVICETAG === 'replica') {
      log.next(
        `SERVICETAG=replica: waiting until cluster "${p.SCOPE}" exists in ${p.DCS} before starting Patroni`,
      )
      await waitUntil(() => clusterExists(p, consulHttp), {
        what: `cluster "${p.SCOPE}"`,
        where: clusterWhere(p, consulHttp),
        hint: `the master member's ${PATHS.cookLog}; a replica only clones from an existing cluster`,
        timeoutMs: timeouts.clusterExistsMs,
        intervalMs: pollMs,
      })
      log.info(`cluster "${p.SCOPE}" exists`)
    }
    if (svc === 'patroni' && checkRoles) {
      log.next(
        `checking that the leader's roles have this member's passwords (${ROLE_PASSWORDS.map((r) => r.param).join(', ')})`,
      )
      await rotateRoles(p, {
        log,
        consulHttp,
        layout: opts.pgLayout ?? JAIL_LAYOUT,
        previous: [p.OLDKEKPASS, rendered, remembered],
        timeoutMs: timeouts.leaderMs,
        intervalMs: pollMs,
      })
      forgetSuperuser(paths.previousSuperuser)
    }
    if (kind !== 'unchanged') await rcConf(svc, plan, sys, log)
    if (!running) {
      log.next(`starting ${svc}`)
      await sys.service(svc, 'start', { timeoutMs: timeouts.serviceMs })
      started.push(svc)
    } else if (marker?.services[svc] !== wanted.services[svc]) {
      const how = REFRESH[svc]
      log.next(`${how === 'reload' ? 'reloading' : 'restarting'} ${svc}: its configuration changed`)
      if (svc === 'patroni')
        log.info(
          'bootstrap.dcs only applies when the cluster is first created: change a running cluster with ' +
            '`patronictl edit-config`; settings PostgreSQL reads only at start show as pending restart',
        )
      await sys.service(svc, how, { timeoutMs: timeouts.serviceMs })
      refreshed.push(svc)
    } else {
      log.next(`${svc} is already running`)
    }
    await ready(svc, { consulHttp, patroniHttp, tls: tlsClient(p), timeouts, pollMs, log })
  }

  if (kind !== 'unchanged' || changedService(marker, wanted)) {
    writeMarker(paths.seasoned, { ...wanted, seasonedAt: new Date().toISOString() })
    log.next(
      `seasoned: ${PATHS.seasoned} written; the next start with these parameters only starts the services`,
    )
  } else {
    log.next('all services running')
  }
  return { kind, started, refreshed, changes }
}

function changedService(marker: Marker | undefined, wanted: Omit<Marker, 'seasonedAt'>): boolean {
  return Object.entries(wanted.services).some(([svc, d]) => marker?.services[svc as ServiceName] !== d)
}

function render(
  plan: Plan,
  root: string,
  owners: 'apply' | 'record',
  log: StepLog,
  kind: StartKind,
): Change[] {
  log.next(`rendering the configuration under ${root}`)
  verifyPlan(plan)
  const changes = apply(plan, { root, owners })
  const count = (s: Change['status']) => changes.filter((c) => c.status === s).length
  log.info(`${count('created')} created, ${count('changed')} changed, ${count('unchanged')} unchanged`)
  for (const c of changes)
    if (c.status !== 'unchanged') log.info(`${c.status} ${c.path}${c.detail ? ` (${c.detail})` : ''}`)
  const data = changes.find((c) => c.path === PATHS.dataDir)
  if (data) log.info(`data directory ${PATHS.dataDir}: ${data.status} (0700, owner ${data.owner})`)
  const bootstrapOnly: string[] = [PATHS.postBootstrap, PATHS.adminRoleSql, PATHS.monitorRoleSql]
  if (kind === 'reseason' && changes.some((c) => c.status !== 'unchanged' && bootstrapOnly.includes(c.path)))
    log.info(
      'the post-bootstrap script (the admin and monitor roles) only runs when the cluster is first created: a ' +
        "running cluster gets a changed ADMPASS or MONPASS through the leader's role check below",
    )
  return changes
}

/** Sets the service's rc.conf variables, each only when it differs. */
async function rcConf(svc: ServiceName, plan: Plan, sys: FreeBsd, log: StepLog): Promise<void> {
  const vars = Object.entries(plan.rcConf).filter(([k]) => k.startsWith(`${svc}_`))
  const set: string[] = []
  for (const [name, value] of vars) if (await sys.sysrcEnsure(name, value)) set.push(`${name}=${value}`)
  log.next(`rc.conf for ${svc}: ${set.length > 0 ? `set ${set.join(', ')}` : 'unchanged'}`)
}

interface ReadyOptions {
  consulHttp: string
  patroniHttp: string
  tls: TlsClient | undefined
  timeouts: Timeouts
  pollMs: number
  log: StepLog
}

async function ready(svc: ServiceName, o: ReadyOptions): Promise<void> {
  if (svc === 'consul') {
    const leader = await waitUntil(() => consulLeader(o.consulHttp), {
      what: 'the Consul agent (a cluster leader)',
      where: `${o.consulHttp}/v1/status/leader`,
      hint: `${LOGS.consul} and the servers in CONSULSERVERS`,
      timeoutMs: o.timeouts.consulLeaderMs,
      intervalMs: o.pollMs,
    })
    o.log.info(`Consul leader: ${leader}`)
  }
  if (svc === 'patroni') {
    await waitUntil(() => patroniLive(o.patroniHttp, o.tls), {
      what: "Patroni's REST API",
      where: `${o.patroniHttp}/liveness`,
      hint: LOGS.patroni,
      timeoutMs: o.timeouts.patroniLiveMs,
      intervalMs: o.pollMs,
    })
    o.log.info(`Patroni answers ${o.patroniHttp}/liveness`)
  }
}

export interface ForegroundOptions {
  sys: FreeBsd
  log: StepLog
  /** `cook stop`'s flag: when present, Patroni's exit is a planned stop, not a crash. */
  stopping: string
  /** How long to wait for Patroni after SIGTERM/SIGINT (the jail's stop budget). */
  stopBoundMs: number
  pollMs?: number
  /** Where SIGTERM and SIGINT arrive; the process itself outside tests. */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>
}

/**
 * Nomad mode: the task lives as long as this returns not. On SIGTERM/SIGINT wait (bounded) for Patroni to
 * finish and answer 0; if Patroni dies on its own, answer 1 so that Nomad restarts the task.
 */
export async function stayInForeground(o: ForegroundOptions): Promise<number> {
  const signals = o.signals ?? process
  const pollMs = o.pollMs ?? 1000
  let received: string | undefined
  let wake: (() => void) | undefined
  const onSignal = (name: string) => {
    received = name
    wake?.()
  }
  const onTerm = () => onSignal('SIGTERM')
  const onInt = () => onSignal('SIGINT')
  signals.on('SIGTERM', onTerm)
  signals.on('SIGINT', onInt)
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  try {
    o.log.next('Nomad mode: staying in the foreground while Patroni runs')
    let plannedSince: number | undefined
    for (;;) {
      if (received) return await drain(received, o, pollMs)
      if (!(await o.sys.running('patroni'))) {
        if (!existsSync(o.stopping)) {
          o.log.next(
            `Patroni is no longer running (see ${LOGS.patroni}); exiting 1 so that Nomad restarts the task`,
          )
          return 1
        }
        if (plannedSince === undefined) {
          plannedSince = Date.now()
          o.log.next('Patroni stopped by `cook stop`: the jail is stopping')
        } else if (Date.now() - plannedSince > o.stopBoundMs) {
          o.log.next('no signal followed `cook stop`; exiting 0')
          return 0
        }
      }
      await pause(pollMs)
    }
  } finally {
    signals.off('SIGTERM', onTerm)
    signals.off('SIGINT', onInt)
  }
}

async function drain(signal: string, o: ForegroundOptions, pollMs: number): Promise<number> {
  o.log.next(`received ${signal}: waiting up to ${o.stopBoundMs / 1000} s for Patroni to finish`)
  const deadline = Date.now() + o.stopBoundMs
  while (await o.sys.running('patroni')) {
    if (Date.now() >= deadline) {
      o.log.next(
        `Patroni still running after ${o.stopBoundMs / 1000} s; exiting 0 (the jail kills what is left)`,
      )
      return 0
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())))
  }
  o.log.next('Patroni has exited; exiting 0')
  return 0
}
