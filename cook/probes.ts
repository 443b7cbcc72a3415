// HTTP probes of what the services expose: the Consul agent's view of its cluster, the DCS keys that
// say a Patroni cluster exists, and Patroni's REST API. Each answers a value when ready, else undefined.
import { httpCall, type TlsClient } from './https.js'
import { authority } from './net.js'
import type { Params } from './params.js'
import { PORTS } from './ports.js'

/** The local Consul agent's HTTP API (client_addr in the agent's configuration). */
export const CONSUL_HTTP = `http://${authority('127.0.0.1', PORTS.consulHttp)}`

const REQUEST_TIMEOUT_MS = 3000

/** The member's own certificate and the cluster's CA, for etcd (client-cert-auth) and Patroni's HTTPS API. */
export function tlsClient(p: Params): TlsClient | undefined {
  if (p.TLS === 'off' || p.TLSCA === undefined) return undefined
  return { ca: p.TLSCA, cert: p.TLSCERT, key: p.TLSKEY }
}

/** The Raft leader the agent knows (e.g. `10.0.0.2:8300`); an agent without one answers `""`. */
export async function consulLeader(consulHttp: string): Promise<string | undefined> {
  const res = await httpCall(`${consulHttp}/v1/status/leader`, { timeoutMs: REQUEST_TIMEOUT_MS })
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`)
  const leader: unknown = JSON.parse(res.text)
  return typeof leader === 'string' && leader !== '' ? leader : undefined
}

/** Patroni's keys for a cluster: its leader, and the initialize key it writes when it bootstraps. */
export function clusterKeys(scope: string): string[] {
  return [`/service/${scope}/initialize`, `/service/${scope}/leader`]
}

/** True when one of the keys exists in Consul's KV store, read through the local agent. */
export async function consulKeyExists(consulHttp: string, keys: string[], token?: string): Promise<boolean> {
  for (const key of keys) {
    const res = await httpCall(`${consulHttp}/v1/kv${encodeURI(key)}`, {
      headers: token ? { 'X-Consul-Token': token } : {},
      timeoutMs: REQUEST_TIMEOUT_MS,
    })
    if (res.status === 200) return true
    if (res.status !== 404) throw new Error(`GET /v1/kv${key}: HTTP ${res.status}`)
  }
  return false
}

/**
 * One v3 range request for a key, asked through the HTTP gateway of the first endpoint that answers; over
 * HTTPS with the member's client certificate when `tls` is given, as Patroni asks.
 */
async function etcdRange(
  endpoints: string[],
  key: string,
  tls: TlsClient | undefined,
  countOnly: boolean,
): Promise<{ count?: string | number; kvs?: { value?: string }[] }> {
  const errors: string[] = []
  for (const endpoint of endpoints) {
    try {
      const res = await httpCall(`${tls ? 'https' : 'http'}://${endpoint}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({
          key: Buffer.from(key).toString('base64'),
          ...(countOnly ? { count_only: true } : {}),
        }),
        tls,
        timeoutMs: REQUEST_TIMEOUT_MS,
      })
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`)
      return JSON.parse(res.text) as { count?: string | number; kvs?: { value?: string }[] }
    } catch (e) {
      errors.push(`${endpoint}: ${(e as Error).message}`)
    }
  }
  throw new Error(errors.join('; '))
}

/** True when one of the keys exists in etcd. */
export async function etcdKeyExists(endpoints: string[], keys: string[], tls?: TlsClient): Promise<boolean> {
  for (const key of keys) if (Number((await etcdRange(endpoints, key, tls, true)).count ?? 0) > 0) return true
  return false
}

/** Where the cook reaches etcd: through the local proxy when there is one, as Patroni does. */
export function etcdEndpoints(p: Params): string[] {
  return p.ETCDPROXY === undefined ? p.ETCDHOSTS : [p.ETCDPROXY]
}

/** Where the cook asks whether the cluster exists, for messages. */
export function clusterWhere(p: Params, consulHttp: string): string {
  const keys = clusterKeys(p.SCOPE).join(' or ')
  return p.DCS === 'consul'
    ? `${keys} via ${consulHttp}/v1/kv`
    : `${keys} in etcd at ${etcdEndpoints(p).join(', ')}`
}

/** True when the cluster of p.SCOPE exists in the DCS: a replica may then clone from it. */
export async function clusterExists(p: Params, consulHttp: string): Promise<true | undefined> {
  const keys = clusterKeys(p.SCOPE)
  const exists =
    p.DCS === 'consul'
      ? await consulKeyExists(consulHttp, keys, p.CONSULTOKEN)
      : await etcdKeyExists(etcdEndpoints(p), keys, tlsClient(p))
  return exists ? true : undefined
}

/** Patroni's REST API on this member: HTTPS unless TLS=off. */
export function patroniUrl(p: Params): string {
  return `${p.TLS === 'off' ? 'http' : 'https'}://${authority(p.MYIP, PORTS.patroniRest)}`
}

/** True once Patroni's REST API answers /liveness with 200 (it does before PostgreSQL is up). */
export async function patroniLive(restUrl: string, tls?: TlsClient): Promise<true | undefined> {
  const res = await httpCall(`${restUrl}/liveness`, { tls, timeoutMs: REQUEST_TIMEOUT_MS })
  return res.status === 200 ? true : undefined
}

/** The value of a key in Consul's KV store, read through the local agent; undefined when it is absent. */
export async function consulValue(
  consulHttp: string,
  key: string,
  token?: string,
): Promise<string | undefined> {
  const res = await httpCall(`${consulHttp}/v1/kv${encodeURI(key)}?raw`, {
    headers: token ? { 'X-Consul-Token': token } : {},
    timeoutMs: REQUEST_TIMEOUT_MS,
  })
  if (res.status === 404) return undefined
  if (res.status !== 200) throw new Error(`GET /v1/kv${key}: HTTP ${res.status}`)
  return res.text
}

/** The value of a key in etcd; undefined when it is absent. */
export async function etcdValue(
  endpoints: string[],
  key: string,
  tls?: TlsClient,
): Promise<string | undefined> {
  const value = (await etcdRange(endpoints, key, tls, false)).kvs?.[0]?.value
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8')
}

/** A key of the DCS this member uses (through the local Consul agent, or etcd); undefined when absent. */
export function dcsValue(p: Params, consulHttp: string, key: string): Promise<string | undefined> {
  return p.DCS === 'consul'
    ? consulValue(consulHttp, key, p.CONSULTOKEN)
    : etcdValue(etcdEndpoints(p), key, tlsClient(p))
}

/** True when the cluster's dynamic configuration makes it a standby cluster (it follows a remote primary). */
export async function dcsStandbyCluster(p: Params, consulHttp: string): Promise<boolean> {
  const config = await dcsValue(p, consulHttp, `/service/${p.SCOPE}/config`)
  try {
    return Boolean((JSON.parse(config ?? '{}') as { standby_cluster?: unknown }).standby_cluster)
  } catch {
    return false
  }
}

/** The cluster's leader as Patroni publishes it: its name, and where its PostgreSQL listens (conn_url). */
export interface LeaderAddress {
  name: string
  host: string
  port: number
}

/**
 * Who leads the cluster of p.SCOPE now, read from the DCS as Patroni wrote it (`leader` holds the name,
 * `members/<name>` the member's data); undefined when there is no leader key or member data.
 */
export async function dcsLeader(p: Params, consulHttp: string): Promise<LeaderAddress | undefined> {
  const read = (key: string) => dcsValue(p, consulHttp, key)
  const name = (await read(`/service/${p.SCOPE}/leader`))?.trim()
  if (!name) return undefined
  const data = await read(`/service/${p.SCOPE}/members/${name}`)
  if (data === undefined) return undefined
  let connUrl: unknown
  try {
    connUrl = (JSON.parse(data) as { conn_url?: unknown }).conn_url
  } catch {
    return undefined
  }
  if (typeof connUrl !== 'string') return undefined
  const url = new URL(connUrl)
  return {
    name,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 5432 : Number(url.port),
  }
}
