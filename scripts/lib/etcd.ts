// A single-member etcd for a development cluster, and the few reads of its v3 JSON API that the tests need.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { httpCall, type TlsClient } from '../../cook/https.js'
import { authority } from '../../cook/net.js'
import { PORTS } from '../../cook/ports.js'
import type { Proc, Procs } from './procs.js'
import { waitFor } from './wait.js'

export interface Etcd {
  proc: Proc
  /** host:port of the client API, as ETCDHOSTS wants it. */
  endpoint: string
  /** With TLS: the CA and a client certificate (etcd runs with --client-cert-auth). */
  tls?: TlsClient | undefined
}

export interface EtcdTls {
  /** Paths of the server's certificate and key and of the CA that signs its clients. */
  cert: string
  key: string
  ca: string
  /** What the harness itself presents (PEM). */
  client: TlsClient
}

export async function startEtcd(
  procs: Procs,
  opts: { host: string; dir: string; name: string; tls?: EtcdTls | undefined },
): Promise<Etcd> {
  const scheme = opts.tls ? 'https' : 'http'
  const client = `${scheme}://${authority(opts.host, PORTS.etcdClient)}`
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
      // Clients (Patroni, the cook's probes, this harness) speak TLS and must show a certificate of the CA.
      ...(opts.tls
        ? [
            ...['--cert-file', opts.tls.cert, '--key-file', opts.tls.key],
            ...['--trusted-ca-file', opts.tls.ca, '--client-cert-auth'],
          ]
        : []),
    ],
    { log: join(opts.dir, 'etcd.log') },
  )
  const etcd: Etcd = { proc, endpoint: authority(opts.host, 2379), tls: opts.tls?.client }
  await waitFor(
    'etcd to answer /health',
    async () => {
      if (proc.done) throw new Error(`etcd exited; see ${join(opts.dir, 'etcd.log')}`)
      const res = await httpCall(`${client}/health`, { tls: etcd.tls, timeoutMs: 1000 })
      return res.status === 200 && (JSON.parse(res.text) as { health?: string }).health === 'true'
    },
    { timeout: 15000, interval: 100 },
  )
  return etcd
}

async function rpc<T>(etcd: Etcd, path: string, body: object): Promise<T> {
  const res = await httpCall(`${etcd.tls ? 'https' : 'http'}://${etcd.endpoint}/v3/${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    tls: etcd.tls,
    timeoutMs: 2000,
  })
  if (res.status !== 200) throw new Error(`etcd ${path}: HTTP ${res.status} ${res.text}`)
  return JSON.parse(res.text) as T
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
