// The jail's start: season on first start (render, rc.conf, data directory), reseason when the parameters
// changed (only what changed is reloaded or restarted), then start the services in order and wait for
// each to come up. The seasoned marker is written last, so a start killed midway converges on the next.
// What to do is decided in cook/start-steps.ts from what is found (the marker, the running services);
// this module finds it and carries the steps out.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { apply, type Change } from './apply.js'
import type { FreeBsd } from './freebsd.js'
import type { StepLog } from './log.js'
import { JAIL_LAYOUT, PATHS, type Layout } from './layout.js'
import { SECRET_NAMES, type Params } from './params.js'
import { plan as makePlan, type Plan, type ServiceName } from './plan.js'
import { readPriorVerifiers } from './prior.js'
import {
  clusterExists,
  clusterWhere,
  consulLeader,
  CONSUL_HTTP,
  patroniLive,
  patroniUrl,
  tlsClient,
} from './probes.js'
import {
  forgetSuperuser,
  rememberedSuperuser,
  rememberSuperuser,
  renderedSuperuserPassword,
  ROLE_PASSWORDS,
  rotateRoles,
} from './rotate.js'
import { digestKey, readMarker, writeMarker } from './seasoned.js'
import { LOGS } from './service-logs.js'
import { startSteps, type StartKind, type StartStep } from './start-steps.js'
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

export interface StartResult {
  kind: StartKind
  started: ServiceName[]
  refreshed: ServiceName[]
  changes: Change[]
}

export async function startJail(p: Params, opts: StartOptions): Promise<StartResult> {
  const { sys, log } = opts
  log.addSecrets(SECRET_NAMES.map((n) => p[n] as string | undefined))
  const root = opts.root ?? '/'
  const paths = statePaths(root, opts.paths)

  // A flag left by the `cook stop` of the previous run of this jail.
  rmSync(paths.stopping, { force: true })
  log.next(
    `cook ${VERSION}: parameters valid (NODENAME=${p.NODENAME}, SERVICETAG=${p.SERVICETAG}, DCS=${p.DCS}, SCOPE=${p.SCOPE})`,
  )

  const plan = makePlan(p, JAIL_LAYOUT, readPriorVerifiers(root))
  const key = digestKey(paths.digestKey)
  const marker = readMarker(paths.seasoned)
  const running: ServiceName[] = []
  for (const svc of plan.services) if (await sys.running(svc)) running.push(svc)
  const steps = startSteps({ params: p, plan, key, marker, running })
  return carryOut(steps, p, plan, opts, paths)
}

/** What carrying out the steps needs: the options resolved, and what earlier steps found. */
interface Run {
  p: Params
  plan: Plan
  sys: FreeBsd
  log: StepLog
  root: string
  owners: 'apply' | 'record'
  paths: StatePaths
  timeouts: Timeouts
  pollMs: number
  consulHttp: string
  patroniHttp: string
  pgLayout: Layout
  result: StartResult
  /** The superuser passwords the leader may still have: this jail's last patroni.yml's, and a failed start's. */
  previous: (string | undefined)[]
}

/** The thin part: each step through the FreeBSD adapter, the probes and the log, in the order given. */
async function carryOut(
  steps: StartStep[],
  p: Params,
  plan: Plan,
  opts: StartOptions,
  paths: StatePaths,
): Promise<StartResult> {
  const run: Run = {
    p,
    plan,
    sys: opts.sys,
    log: opts.log,
    root: opts.root ?? '/',
    owners: opts.owners ?? 'apply',
    paths,
    timeouts: { ...DEFAULT_TIMEOUTS, ...opts.timeouts },
    pollMs: opts.pollMs ?? 1000,
    consulHttp: opts.consulHttp ?? CONSUL_HTTP,
    patroniHttp: opts.patroniHttp ?? patroniUrl(p),
    pgLayout: opts.pgLayout ?? JAIL_LAYOUT,
    result: { kind: 'first', started: [], refreshed: [], changes: [] },
    previous: [],
  }
  for (const step of steps) await carryOutStep(step, run)
  return run.result
}

async function carryOutStep(step: StartStep, run: Run): Promise<void> {
  const { p, log, paths } = run
  switch (step.kind) {
    case 'announce':
      run.result.kind = step.start
      log.next(announcement(step))
      return
    case 'keep-superuser': {
      const rendered = renderedSuperuserPassword(join(run.root, PATHS.patroniYml))
      run.previous = [rendered, rememberedSuperuser(paths.previousSuperuser)]
      if (rendered !== undefined && rendered !== p.KEKPASS)
        rememberSuperuser(paths.previousSuperuser, rendered)
      return
    }
    case 'render':
      run.result.changes = render(run.plan, run.root, run.owners, log, step.start)
      return
    case 'wait-cluster':
      return waitForCluster(run)
    case 'rotate-roles':
      log.next(
        `checking that the leader's roles have this member's passwords (${ROLE_PASSWORDS.map((r) => r.param).join(', ')})`,
      )
      await rotateRoles(p, {
        log,
        consulHttp: run.consulHttp,
        layout: run.pgLayout,
        previous: [p.OLDKEKPASS, ...run.previous],
        timeoutMs: run.timeouts.leaderMs,
        intervalMs: run.pollMs,
      })
      forgetSuperuser(paths.previousSuperuser)
      return
    case 'rc-conf':
      return rcConf(step.service, run.plan, run.sys, log)
    case 'service':
      return serviceAction(step, run)
    case 'already-running':
      log.next(`${step.service} is already running`)
      return
    case 'wait-consul-leader':
      return waitForConsulLeader(run)
    case 'wait-patroni-live':
      return waitForPatroni(run)
    case 'write-marker':
      writeMarker(paths.seasoned, { ...step.marker, seasonedAt: new Date().toISOString() })
      log.next(
        `seasoned: ${PATHS.seasoned} written; the next start with these parameters only starts the services`,
      )
      return
    case 'all-running':
      log.next('all services running')
      return
  }
}

function announcement(step: Extract<StartStep, { kind: 'announce' }>): string {
  if (step.start === 'first') return `first start: seasoning this jail (no valid ${PATHS.seasoned})`
  if (step.start === 'unchanged')
    return `parameters unchanged since ${step.since}: starting the services only`
  return `parameters changed since ${step.since} (${step.changed.join(', ') || 'cook version'}): reseasoning`
}

async function serviceAction(step: Extract<StartStep, { kind: 'service' }>, run: Run): Promise<void> {
  const { service, action } = step
  if (action === 'start') run.log.next(`starting ${service}`)
  else {
    run.log.next(`${action === 'reload' ? 'reloading' : 'restarting'} ${service}: its configuration changed`)
    if (service === 'patroni')
      run.log.info(
        'bootstrap.dcs only applies when the cluster is first created: change a running cluster with ' +
          '`patronictl edit-config`; settings PostgreSQL reads only at start show as pending restart',
      )
  }
  await run.sys.service(service, action, { timeoutMs: run.timeouts.serviceMs })
  if (action === 'start') run.result.started.push(service)
  else run.result.refreshed.push(service)
}

async function waitForCluster({ p, log, consulHttp, timeouts, pollMs }: Run): Promise<void> {
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

async function waitForConsulLeader({ log, consulHttp, timeouts, pollMs }: Run): Promise<void> {
  const leader = await waitUntil(() => consulLeader(consulHttp), {
    what: 'the Consul agent (a cluster leader)',
    where: `${consulHttp}/v1/status/leader`,
    hint: `${LOGS.consul} and the servers in CONSULSERVERS`,
    timeoutMs: timeouts.consulLeaderMs,
    intervalMs: pollMs,
  })
  log.info(`Consul leader: ${leader}`)
}

async function waitForPatroni({ p, log, patroniHttp, timeouts, pollMs }: Run): Promise<void> {
  await waitUntil(() => patroniLive(patroniHttp, tlsClient(p)), {
    what: "Patroni's REST API",
    where: `${patroniHttp}/liveness`,
    hint: LOGS.patroni,
    timeoutMs: timeouts.patroniLiveMs,
    intervalMs: pollMs,
  })
  log.info(`Patroni answers ${patroniHttp}/liveness`)
}

function render(
  plan: Plan,
  root: string,
  owners: 'apply' | 'record',
  log: StepLog,
  kind: Exclude<StartKind, 'unchanged'>,
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
