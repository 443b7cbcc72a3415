// What the jail's start does, decided without doing it: from the plan, the seasoned marker found on disk
// and the services that run now, the list of steps the start takes (cook/lifecycle.ts carries them out).
// Pure: it reads nothing and writes nothing, so every reseason rule is a millisecond test.
import type { Params } from './params.js'
import type { Plan, ServiceName } from './plan.js'
import { changedNames, wantedMarker, type Marker } from './seasoned.js'

export type StartKind = 'first' | 'unchanged' | 'reseason'

/** The marker a start writes once it has finished, without its time. */
export type WantedMarker = Omit<Marker, 'seasonedAt'>

/** How a running service takes a new configuration. */
export const REFRESH: Record<ServiceName, 'reload' | 'restart'> = {
  // SIGHUP: Patroni re-reads patroni.yml without stopping PostgreSQL (what `patronictl reload` asks for).
  patroni: 'reload',
  // The agent's bind address, datacenter or ACLs are not reloadable.
  consul: 'restart',
  node_exporter: 'restart',
  // cron notices changed files in /usr/local/etc/cron.d by itself; a restart is harmless.
  cron: 'restart',
  // Its configuration is the base system's; the cook gives it only syslogd_enable.
  syslogd: 'restart',
  // It reads its environment and password file only at start.
  postgres_exporter: 'restart',
}

export type StartStep =
  /** Says what kind of start this is; `changed` names the parameters a reseason follows. */
  | { kind: 'announce'; start: 'first' }
  | { kind: 'announce'; start: 'unchanged'; since: string }
  | { kind: 'announce'; start: 'reseason'; since: string; changed: string[] }
  /** Keeps the superuser password of the patroni.yml a render is about to replace (for the role check). */
  | { kind: 'keep-superuser' }
  /** Writes the plan's directories and files under the root. */
  | { kind: 'render'; start: Exclude<StartKind, 'unchanged'> }
  /** A replica waits until its cluster exists in the DCS. */
  | { kind: 'wait-cluster' }
  /** The leader's roles get this member's passwords (cook/rotate.ts). */
  | { kind: 'rotate-roles' }
  /** Sets the service's rc.conf variables that differ. */
  | { kind: 'rc-conf'; service: ServiceName }
  | { kind: 'service'; service: ServiceName; action: 'start' | 'reload' | 'restart' }
  | { kind: 'already-running'; service: ServiceName }
  /** The Consul agent knows a cluster leader. */
  | { kind: 'wait-consul-leader' }
  /** Patroni's REST API answers. */
  | { kind: 'wait-patroni-live' }
  /** The start has finished: the marker records these parameters and what each service was given. */
  | { kind: 'write-marker'; marker: WantedMarker }
  /** Nothing to record: the marker already says all of this. */
  | { kind: 'all-running' }

export interface StartInput {
  params: Params
  /** plan(params). */
  plan: Plan
  /** The per-jail key of the marker's keyed hashes (seasoned.ts digestKey). */
  key: string
  /** The seasoned marker on disk; undefined when there is none or it is unreadable. */
  marker: Marker | undefined
  /** The plan's services that run now. */
  running: readonly ServiceName[]
}

export function startKind(marker: Marker | undefined, wanted: WantedMarker): StartKind {
  if (!marker) return 'first'
  return marker.params === wanted.params && marker.secrets === wanted.secrets ? 'unchanged' : 'reseason'
}

/** The steps of a start, in order. */
export function startSteps(input: StartInput): StartStep[] {
  const { params: p, plan, marker, running } = input
  const wanted = wantedMarker(input.key, p, plan)
  const kind = startKind(marker, wanted)
  const steps: StartStep[] = [announce(kind, marker, wanted)]

  // A first start (a new jail: every Nomad start) or changed secrets may bring passwords the cluster's roles
  // do not have yet. The superuser password this jail had is read before the new files replace it.
  const checkRoles = kind === 'first' || (kind === 'reseason' && marker?.secrets !== wanted.secrets)
  if (checkRoles) steps.push({ kind: 'keep-superuser' })
  if (kind !== 'unchanged') steps.push({ kind: 'render', start: kind })

  for (const svc of plan.services) {
    const runs = running.includes(svc)
    // A replica must never reach Patroni's bootstrap: it would initialise a second, empty cluster.
    // rc.conf does not enable Patroni before this either, so /etc/rc cannot start it early.
    if (svc === 'patroni' && !runs && p.SERVICETAG === 'replica') steps.push({ kind: 'wait-cluster' })
    if (svc === 'patroni' && checkRoles) steps.push({ kind: 'rotate-roles' })
    if (kind !== 'unchanged') steps.push({ kind: 'rc-conf', service: svc })
    if (!runs) steps.push({ kind: 'service', service: svc, action: 'start' })
    // A service that runs with what another configuration gave it (or with no record of it) takes this one.
    else if (marker?.services[svc] !== wanted.services[svc])
      steps.push({ kind: 'service', service: svc, action: REFRESH[svc] })
    else steps.push({ kind: 'already-running', service: svc })
    if (svc === 'consul') steps.push({ kind: 'wait-consul-leader' })
    if (svc === 'patroni') steps.push({ kind: 'wait-patroni-live' })
  }

  const serviceChanged = plan.services.some((svc) => marker?.services[svc] !== wanted.services[svc])
  steps.push(
    kind !== 'unchanged' || serviceChanged
      ? { kind: 'write-marker', marker: wanted }
      : { kind: 'all-running' },
  )
  return steps
}

function announce(kind: StartKind, marker: Marker | undefined, wanted: WantedMarker): StartStep {
  if (!marker || kind === 'first') return { kind: 'announce', start: 'first' }
  if (kind === 'unchanged') return { kind: 'announce', start: 'unchanged', since: marker.seasonedAt }
  const changed = changedNames(marker.values, wanted.values)
  if (marker.secrets !== wanted.secrets) changed.push('a secret parameter')
  return { kind: 'announce', start: 'reseason', since: marker.seasonedAt, changed }
}
