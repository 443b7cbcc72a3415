// Picking a loopback block for a cluster that nothing else on this machine listens on: two checkouts may
// run the end-to-end tests at the same time, and each test must keep its own addresses and ports.
import { createServer } from 'node:net'
import { PORTS } from '../../cook/ports.js'
import { GATEWAY_PORT, PG_PORT, PRIMARY_PORT, REPLICA_PORT, REST_PORT } from './cluster.js'

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/**
 * The first free `<prefix>.N` (N from 1 to 250, starting at a place derived from our PID so that concurrent
 * runs spread out): etcd's and HAProxy's ports on .10 and every member's ports (its gateway's too) on .11
 * onwards can be bound.
 */
export async function freeBlock(prefix: string, size = 3): Promise<string> {
  const start = process.pid % 250
  for (let i = 0; i < 250; i++) {
    const net = `${prefix}.${((start + i) % 250) + 1}`
    const wanted: [string, number][] = [PORTS.etcdClient, PORTS.etcdPeer, PRIMARY_PORT, REPLICA_PORT].map(
      (p) => [`${net}.10`, p],
    )
    for (let m = 0; m < size; m++)
      for (const port of [PG_PORT, REST_PORT, GATEWAY_PORT]) wanted.push([`${net}.${11 + m}`, port])
    if ((await Promise.all(wanted.map(([h, p]) => canListen(h, p)))).every(Boolean)) return net
  }
  throw new Error(`no free address block under ${prefix}.0.0/16`)
}
