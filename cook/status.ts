// `cook status`: one look at this member, read-only. Every fact comes from what the services themselves
// answer (Patroni's REST API, the exporters, the DCS) and from the seasoned marker; nothing is written and
// no secret is read into the report.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { backupScriptArgv, backupsOn, backupState, type BackupState } from './backup.js'
import { httpCall, type TlsClient } from './https.js'
import { exporterUrl } from './monitoring.js'
import { metricsAuthHeader, nodeExporterUrl } from './exporter-web.js'
import type { Params } from './params.js'
import { clusterView, memberState, type MemberView } from './patroni-api.js'
import { plan, type ServiceName } from './plan.js'
import {
  clusterExists,
  clusterWhere,
  consulLeader,
  CONSUL_HTTP,
  patroniLive,
  patroniUrl,
  tlsClient,
} from './probes.js'
import { run } from './shell.js'
import { changedNames, openValues, paramsDigest, readMarker, secretsDigest } from './seasoned.js'
import { parseCertificates, WARN_DAYS } from './tls.js'

export type Level = 'ok' | 'warning' | 'critical'

/** Exit codes of `cook status`: 0 healthy, 1 a warning, 2 critical (README: "Monitoring"). */
export const STATUS_EXIT: Record<Level, number> = { ok: 0, warning: 1, critical: 2 }

export interface Reason {
  level: Exclude<Level, 'ok'>
  message: string
}

export interface ServiceStatus {
  name: ServiceName
  up: boolean
  where: string
  detail?: string
}

export interface StatusReport {
  member: { name: string; scope: string; address: string; dcs: string }
  health: Level
  exitCode: number
  reasons: Reason[]
  params: {
    digest: string
    seasoned: boolean
    seasonedAt: string | null
    /** True when the marker was written for exactly these parameters. */
    current: boolean
    changed: string[]
  }
  services: ServiceStatus[]
  patroni: {
    role: string
    state: string
    timeline: number | null
    lagBytes: number | null
    sync: string
    paused: boolean
  } | null
  dcs: { reachable: boolean; where: string; error?: string }
  archiving: { on: boolean; archived: number; failed: number; lastArchiveAgeS: number | null } | null
  /** The repository (BACKUPREPO): its newest backup; null when backups are off. */
  backups: BackupState | null
  /** The member's certificate (TLSCERT) and the CA (TLSCA): subjects and ends, never the PEM; null with TLS=off. */
  certificates: { param: 'TLSCERT' | 'TLSCA'; subject: string; notAfter: string; daysLeft: number }[] | null
  cluster: { name: string; role: string; state: string; timeline: number | null; lagBytes: number | null }[]
}

export interface StatusOptions {
  seasoned: string
  /** The per-jail key of the marker's keyed hashes; read only if it exists (root-only). */
  digestKey: string
  consulHttp?: string
  /** The jail's root: the backup script is read under it (default /). */
  root?: string
  /** The environment commands run with (its PATH finds su): the command's, never assumed. */
  env?: Record<string, string | undefined>
}

/**
 * A newest backup older than this is a warning: a full backup a week (BACKUPFULL's default) plus a day, or
 * two days when the daily differential backups run (BACKUPDIFF).
 */
export function backupMaxAgeS(p: Params): number {
  return (p.BACKUPDIFF === 'off' ? 8 : 2) * 86_400
}

/** A Prometheus text exposition as name{labels} -> value, enough to read a few gauges. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line)
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]))
  }
  return out
}

/** One GET; https URLs (Patroni's REST API with TLS) are verified against the cluster's CA. */
const get = (url: string, tls?: TlsClient, headers?: Record<string, string>) =>
  httpCall(url, { tls, timeoutMs: 3000, ...(headers ? { headers } : {}) })

const DAY_MS = 86_400_000

/** The certificates of TLSCERT and TLSCA with the days each has left (negative: expired). */
export function certificateEnds(p: Params, now = new Date()): NonNullable<StatusReport['certificates']> {
  const out: NonNullable<StatusReport['certificates']> = []
  for (const param of ['TLSCERT', 'TLSCA'] as const) {
    const certs = p[param] === undefined ? [] : parseCertificates(p[param])
    if (typeof certs === 'string') continue
    for (const c of certs as X509Certificate[])
      out.push({
        param,
        subject: c.subject.split('\n').join(', '),
        notAfter: new Date(c.validTo).toISOString(),
        daysLeft: Math.floor((new Date(c.validTo).getTime() - now.getTime()) / DAY_MS),
      })
  }
  return out
}

/**
 * The value of a metric whatever its labels (postgres_exporter labels its metrics with `server`); the first
 * series when there are several.
 */
export function gauge(metrics: Map<string, number>, name: string): number | undefined {
  for (const [key, value] of metrics) if (key === name || key.startsWith(`${name}{`)) return value
  return undefined
}

const settle = async <T>(f: () => Promise<T>): Promise<{ value?: T; error?: string }> => {
  try {
    return { value: await f() }
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } }
    return { error: err.cause?.code ?? err.message }
  }
}

export async function memberStatus(p: Params, o: StatusOptions): Promise<StatusReport> {
  const reasons: Reason[] = []
  const warn = (message: string) => reasons.push({ level: 'warning', message })
  const crit = (message: string) => reasons.push({ level: 'critical', message })
  const consulHttp = o.consulHttp ?? CONSUL_HTTP
  const rest = patroniUrl(p)
  // Patroni's REST API is HTTPS with TLS on: verified against TLSCA, as the cook's own probes do.
  const tls = tlsClient(p)

  // Parameters and the seasoned marker.
  const marker = readMarker(o.seasoned)
  const digest = paramsDigest(p)
  let key: string | undefined
  try {
    key = readFileSync(o.digestKey, 'utf8').trim()
  } catch {
    // not root, or never seasoned: secret changes cannot be told apart
  }
  const changed = marker ? changedNames(marker.values, openValues(p)) : []
  if (marker && key !== undefined && marker.secrets !== secretsDigest(key, p))
    changed.push('a secret parameter')
  const current = marker !== undefined && marker.params === digest && !changed.includes('a secret parameter')
  if (!marker) warn('the jail is not seasoned: cook has not finished a start with any parameters')
  else if (!current)
    warn(
      `parameters changed since the jail was seasoned (${changed.join(', ') || 'cook version'}): restart cook`,
    )

  // Services, each by what it answers.
  const services: ServiceStatus[] = []
  const planned = plan(p).services
  // The exporters answer only Prometheus's user (METRICSPASS), over HTTPS with TLS on.
  const scrape = (url: string) => get(url, tls, metricsAuthHeader(p))
  const exporter = await settle(() => scrape(`${exporterUrl(p)}/metrics`))
  const metrics = exporter.value?.status === 200 ? parseMetrics(exporter.value.text) : undefined
  for (const name of planned) {
    if (name === 'consul') {
      const r = await settle(() => consulLeader(consulHttp))
      services.push({
        name,
        up: r.error === undefined,
        where: consulHttp,
        detail: r.error ?? (r.value ? `leader ${r.value}` : 'no cluster leader'),
      })
    }
    if (name === 'patroni') {
      const r = await settle(() => patroniLive(rest, tls))
      services.push({ name, up: r.value === true, where: `${rest}/liveness`, detail: r.error ?? '' })
    }
    if (name === 'node_exporter') {
      const url = `${nodeExporterUrl(p)}/metrics`
      const r = await settle(() => scrape(url))
      services.push({ name, up: r.value?.status === 200, where: url, detail: r.error ?? '' })
    }
    if (name === 'postgres_exporter') {
      const pgUp = metrics && gauge(metrics, 'pg_up')
      services.push({
        name,
        up: metrics !== undefined,
        where: `${exporterUrl(p)}/metrics`,
        detail: exporter.error ?? (pgUp === 1 ? 'reaches PostgreSQL' : 'cannot reach PostgreSQL (pg_up 0)'),
      })
      if (metrics !== undefined && pgUp !== 1)
        warn('postgres_exporter answers but cannot log in to PostgreSQL as the monitor role (pg_up is not 1)')
    }
  }
  for (const s of services)
    if (!s.up)
      (s.name === 'patroni' || s.name === 'consul' ? crit : warn)(`${s.name} does not answer at ${s.where}`)

  // Patroni's view of this member and of the cluster.
  const state = await settle(() => memberState(rest, tls))
  const view = await settle(() => clusterView(rest, tls))
  const members = view.value?.members ?? []
  const me: MemberView | undefined = members.find((m) => m.name === p.NODENAME)
  const lagOf = (m: MemberView | undefined) => (typeof m?.lag === 'number' ? m.lag : null)
  let patroni: StatusReport['patroni'] = null
  if (state.value) {
    const s = state.value
    const role = me?.role ?? s.role ?? 'unknown'
    const leader = role === 'leader' || role === 'master' || role === 'primary'
    const syncNames = members.filter((m) => m.role === 'sync_standby').map((m) => m.name)
    const sync =
      p.SYNCMODE === 'off'
        ? 'off'
        : leader
          ? syncNames.length > 0
            ? `sync standby ${syncNames.join(', ')}`
            : 'no sync standby'
          : role === 'sync_standby'
            ? 'this member is the sync standby'
            : 'async'
    patroni = {
      role,
      state: s.state ?? 'unknown',
      timeline: s.timeline ?? me?.timeline ?? null,
      lagBytes: leader ? 0 : lagOf(me),
      sync,
      paused: s.pause === true,
    }
    if (s.state !== 'running') crit(`PostgreSQL is ${s.state ?? 'in an unknown state'} on this member`)
    if (!leader && patroni.lagBytes !== null && patroni.lagBytes > p.MAXLAG)
      warn(
        `this replica lags ${patroni.lagBytes} bytes, more than MAXLAG (${p.MAXLAG}): it cannot be promoted`,
      )
    if (p.SYNCMODE !== 'off' && leader && syncNames.length === 0)
      warn('synchronous mode is on but there is no sync standby')
    if (patroni.paused) warn('Patroni is paused (maintenance mode): it does not fail over')
  }
  if (
    view.value &&
    !members.some((m) => ['leader', 'standby_leader'].includes(m.role) && m.state === 'running')
  )
    crit('the cluster has no running leader')

  // The DCS, asked the way the cook asks it before a replica starts.
  const where = clusterWhere(p, consulHttp)
  const dcsProbe = await settle(() => clusterExists(p, consulHttp))
  const dcs =
    dcsProbe.error === undefined
      ? { reachable: true, where }
      : { reachable: false, where, error: dcsProbe.error }
  if (!dcs.reachable) crit(`the DCS does not answer (${where})`)

  // WAL archiving, from postgres_exporter's pg_stat_archiver: on once anything was archived or failed.
  let archiving: StatusReport['archiving'] = null
  if (metrics) {
    const archived = gauge(metrics, 'pg_stat_archiver_archived_count') ?? 0
    const failed = gauge(metrics, 'pg_stat_archiver_failed_count') ?? 0
    const age = gauge(metrics, 'pg_stat_archiver_last_archive_age')
    archiving = {
      on: archived + failed > 0,
      archived,
      failed,
      lastArchiveAgeS: age === undefined || Number.isNaN(age) ? null : Math.round(age),
    }
    const leader = patroni?.role === 'leader'
    if (archiving.on && leader && (archiving.lastArchiveAgeS === null || archiving.lastArchiveAgeS > 3600))
      warn('WAL archiving is on but nothing was archived in the last hour')
  }

  // Backups, from the repository itself (cook-backup info: pgbackrest info as the postgres user).
  let backups: StatusReport['backups'] = null
  if (backupsOn(p)) {
    const r = await settle(() =>
      run(backupScriptArgv(o.root ?? '/', ['info'], process.getuid?.()), {
        env: (o.env ?? process.env) as NodeJS.ProcessEnv,
        timeoutMs: 30_000,
      }),
    )
    const out = r.value
    if (out?.exitCode === 0) {
      const b = await settle(async () => backupState(out.stdout, p.SCOPE))
      backups = b.value ?? { status: 'unreadable', lastBackup: null, walMax: null, error: b.error ?? '' }
    } else
      backups = {
        status: 'unreadable',
        lastBackup: null,
        walMax: null,
        error: r.error ?? (out?.stderr.trim().split('\n').at(-1) || `exit ${out?.exitCode}`),
      }
    if (backups.error !== undefined) warn(`the backup repository cannot be read: ${backups.error}`)
    else if (backups.lastBackup === null) warn(`no backup in the repository yet (${backups.status})`)
    else if (backups.lastBackup.ageS > backupMaxAgeS(p))
      warn(
        `the newest backup ended ${backups.lastBackup.stop} (${Math.round(backups.lastBackup.ageS / 3600)} h ago): ` +
          'scheduled backups are not running on the leader',
      )
  }

  // Certificates: a member whose certificate has expired cannot be reached by verifying clients or peers.
  const certificates = p.TLS === 'off' ? null : certificateEnds(p)
  for (const c of certificates ?? [])
    if (c.daysLeft < 0) crit(`${c.param} ${c.subject} expired on ${c.notAfter.slice(0, 10)}`)
    else if (c.daysLeft < WARN_DAYS)
      warn(
        `${c.param} ${c.subject} expires on ${c.notAfter.slice(0, 10)} (${c.daysLeft} days left): rotate it`,
      )

  const health: Level = reasons.some((r) => r.level === 'critical')
    ? 'critical'
    : reasons.length > 0
      ? 'warning'
      : 'ok'
  return {
    member: { name: p.NODENAME, scope: p.SCOPE, address: p.MYIP, dcs: p.DCS },
    health,
    exitCode: STATUS_EXIT[health],
    reasons,
    params: {
      digest,
      seasoned: marker !== undefined,
      seasonedAt: marker?.seasonedAt ?? null,
      current,
      changed,
    },
    services,
    patroni,
    dcs,
    archiving,
    backups,
    certificates,
    cluster: members.map((m) => ({
      name: m.name,
      role: m.role,
      state: m.state,
      timeline: m.timeline ?? null,
      lagBytes: m.role === 'leader' ? 0 : lagOf(m),
    })),
  }
}

const bytes = (n: number | null) =>
  n === null
    ? '?'
    : n < 1024
      ? `${n} B`
      : n < 1048576
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${(n / 1048576).toFixed(1)} MiB`

/** The report as one screen of text. */
export function statusText(r: StatusReport): string[] {
  const word = { ok: 'HEALTHY', warning: 'WARNING', critical: 'CRITICAL' }[r.health]
  const lines = [
    `member ${r.member.name} of cluster ${r.member.scope} (${r.member.address}, DCS ${r.member.dcs}): ${word}`,
    `parameters  digest ${r.params.digest.slice(0, 12)}; ${
      r.params.seasoned
        ? `seasoned ${r.params.seasonedAt}${r.params.current ? ', with these parameters' : `, changed since: ${r.params.changed.join(', ') || 'cook version'}`}`
        : 'not seasoned'
    }`,
    `services    ${r.services.map((s) => `${s.name} ${s.up ? 'up' : 'DOWN'}`).join(', ')}`,
    r.patroni
      ? `patroni     ${r.patroni.role}, ${r.patroni.state}, timeline ${r.patroni.timeline ?? '?'}, lag ${bytes(r.patroni.lagBytes)}, sync: ${r.patroni.sync}${r.patroni.paused ? ', PAUSED' : ''}`
      : 'patroni     no answer',
    `dcs         ${r.dcs.reachable ? 'reachable' : `UNREACHABLE (${r.dcs.error})`}: ${r.dcs.where}`,
    `archiving   ${
      r.archiving === null
        ? 'unknown (postgres_exporter does not answer)'
        : r.archiving.on
          ? `on: ${r.archiving.archived} archived, ${r.archiving.failed} failed, last ${r.archiving.lastArchiveAgeS ?? '?'} s ago`
          : 'off'
    }`,
    `backups     ${
      r.backups === null
        ? 'off (BACKUPREPO=off)'
        : r.backups.lastBackup
          ? `newest ${r.backups.lastBackup.type} ended ${r.backups.lastBackup.stop} (${Math.round(r.backups.lastBackup.ageS / 60)} min ago), WAL archived up to ${r.backups.walMax ?? 'none'}${r.backups.cipher === undefined ? '' : r.backups.cipher === 'none' ? '; NOT encrypted' : `; encrypted (${r.backups.cipher})`}`
          : `none (${r.backups.error ?? r.backups.status})`
    }`,
    `tls         ${
      r.certificates === null
        ? 'off'
        : r.certificates
            .map((c) => `${c.param} until ${c.notAfter.slice(0, 10)} (${c.daysLeft} days)`)
            .join(', ')
    }`,
  ]
  if (r.cluster.length > 0) {
    lines.push('members')
    for (const m of [...r.cluster].sort((a, b) => a.name.localeCompare(b.name)))
      lines.push(
        `  ${m.name.padEnd(12)} ${m.role.padEnd(14)} ${m.state.padEnd(10)} TL ${String(m.timeline ?? '?').padEnd(4)} lag ${bytes(m.lagBytes)}`,
      )
  } else lines.push('members     unknown (Patroni on this member does not answer)')
  for (const reason of r.reasons)
    lines.push(`${reason.level === 'critical' ? 'CRITICAL' : 'warning '}    ${reason.message}`)
  return lines
}
