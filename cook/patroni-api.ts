// Reads of Patroni's REST API: the cluster view, the member's own state and the health endpoints HAProxy
// uses; over HTTPS verified against the cluster's CA when the cluster runs TLS. Shared by `cook status` and
// the development cluster.
import { httpCall, type TlsClient } from './https.js'

export interface MemberView {
  name: string
  role: string
  state: string
  host: string
  port: number
  api_url: string
  timeline?: number
  lag?: number | string
}

export interface ClusterView {
  members: MemberView[]
}

/** GET /cluster from a member's REST API. */
export async function clusterView(restUrl: string, tls?: TlsClient): Promise<ClusterView> {
  return (await getJson(`${restUrl}/cluster`, tls)) as ClusterView
}

/** What GET /patroni says about the member itself (the fields `cook status` shows). */
export interface MemberState {
  state?: string
  role?: string
  timeline?: number
  pause?: boolean
  cluster_unlocked?: boolean
  dcs_last_seen?: number
  xlog?: { location?: number; received_location?: number; replayed_location?: number; paused?: boolean }
  replication?: { application_name: string; state: string; sync_state: string }[]
  patroni?: { version?: string; scope?: string }
  server_version?: number
}

/** GET /patroni: the member's own state; Patroni answers 503 with the same body when PostgreSQL is down. */
export async function memberState(restUrl: string, tls?: TlsClient): Promise<MemberState> {
  return (await getJson(`${restUrl}/patroni`, tls, true)) as MemberState
}

async function getJson(url: string, tls: TlsClient | undefined, any503 = false): Promise<unknown> {
  const res = await httpCall(url, { tls, timeoutMs: 1500 })
  if (res.status !== 200 && !(any503 && res.status === 503)) throw new Error(`${url}: HTTP ${res.status}`)
  return JSON.parse(res.text)
}

/** The HTTP status of a health endpoint (/primary, /replica, /liveness, ...), or 0 when nothing answers. */
export async function health(restUrl: string, path: string, tls?: TlsClient): Promise<number> {
  try {
    const res = await httpCall(`${restUrl}${path}`, { method: 'OPTIONS', tls, timeoutMs: 1500 })
    return res.status
  } catch {
    return 0
  }
}

/** The leader of a cluster, or of a standby cluster (which follows a remote primary). */
export const isLeader = (m: MemberView) =>
  (m.role === 'leader' || m.role === 'standby_leader') && (m.state === 'running' || m.state === 'streaming')
export const isReplica = (m: MemberView) =>
  (m.role === 'replica' || m.role === 'sync_standby') && (m.state === 'running' || m.state === 'streaming')

/** The view as a table in the spirit of `patronictl list`. */
export function statusTable(scope: string, view: ClusterView): string {
  const head = ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB']
  const rows = [...view.members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => [
      m.name,
      `${m.host}:${m.port}`,
      m.role === 'leader' ? 'Leader' : m.role === 'sync_standby' ? 'Sync Standby' : 'Replica',
      m.state,
      m.timeline === undefined ? '' : String(m.timeline),
      m.role === 'leader' || m.lag === undefined
        ? ''
        : typeof m.lag === 'number'
          ? String(Math.round(m.lag / 1048576))
          : m.lag,
    ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`
  const fmt = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  const title = `+ Cluster: ${scope} `
  return [title + line.slice(title.length), fmt(head), line, ...rows.map(fmt), line].join('\n')
}
