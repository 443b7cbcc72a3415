// A single-member etcd for a development cluster, and the few reads of its v3 JSON API that the tests need.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { authority } from '../../cook/net.js'
import { PORTS } from '../../cook/ports.js'
import type { Proc, Procs } from './procs.js'
import { waitFor } from './wait.js'

export interface Etcd {
  proc: Proc
  /** host:port of the client API, as ETCDHOSTS wants it. */
  endpoint: string
}

export async function startEtcd(
  procs: Procs,
  opts: { host: string; dir: string; name: string },
): Promise<Etcd> {
  const client = `http://${authority(opts.host, PORTS.etcdClient)}`
  const peer = `http://${authority(opts.host, PORTS.etcdPeer)}`
  const data = join(opts.dir, 'data')
  mkdirSync(data, { recursive: true, mode: 0o700 })
  const proc = procs.start(
    'etcd',
    [
      'etcd',
      ...['--name', opts.name, '--data-dir', data],
      ...['--listen-client-urls', client, '--advertise-client-urls', client],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `${opts.name}=${peer}`],
    ],
    { log: join(opts.dir, 'etcd.log') },
  )
  const etcd = { proc, endpoint: authority(opts.host, 2379) }
  await waitFor(
    'etcd to answer /health',
    async () => {
      if (proc.done) throw new Error(`etcd exited; see ${join(opts.dir, 'etcd.log')}`)
      const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) })
      return res.ok && ((await res.json()) as { health?: string }).health === 'true'
    },
    { timeout: 15000, interval: 100 },
  )
  return etcd
}

async function rpc<T>(etcd: Etcd, path: string, body: object): Promise<T> {
  const res = await fetch(`http://${etcd.endpoint}/v3/${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(2000),
  })
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

export interface KeyValue {
  value: string
  /** The lease that keeps the key alive, as a decimal string ("0" for none). */
  lease: string
  modRevision: string
}

export async function getKey(etcd: Etcd, key: string): Promise<KeyValue | undefined> {
  const r = await rpc<{ kvs?: { value?: string; lease?: string; mod_revision: string }[] }>(
    etcd,
    'kv/range',
    {
      key: b64(key),
    },
  )
  const kv = r.kvs?.[0]
  if (!kv) return undefined
  return {
    value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
    lease: kv.lease ?? '0',
    modRevision: kv.mod_revision,
  }
}

/** Seconds a lease has left; -1 when it has expired or was revoked. */
export async function leaseTtl(etcd: Etcd, lease: string): Promise<number> {
  const r = await rpc<{ TTL: string }>(etcd, 'lease/timetolive', { ID: lease })
  return Number(r.TTL)
}
