// Checks of the jail the cook runs in, before anything is written: parameters can be valid and still
// name an address the jail does not have. PostgreSQL, Patroni's REST API and the Consul agent bind MYIP,
// and the Consul agent's HTTP API binds 127.0.0.1, which only a jail with a loopback address of its own
// keeps inside the jail.
import { networkInterfaces } from 'node:os'
import { isIPv4 } from 'node:net'
import { canonicalHost } from './net.js'
import type { Problem } from './errors.js'
import type { Params } from './params.js'

/** Every address on the jail's interfaces: in a FreeBSD jail, exactly the jail's own addresses. */
export function jailAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .map((a) => canonicalHost(a.address.replace(/%.*$/, '')))
}

const isLoopbackV4 = (a: string) => isIPv4(a) && a.startsWith('127.')

/** What is wrong with this jail for these parameters, each naming the parameter it concerns. */
export function preflight(
  p: Pick<Params, 'MYIP' | 'DCS'>,
  addresses: string[],
  opts: { allowLoopback: boolean } = { allowLoopback: false },
): Problem[] {
  const problems: Problem[] = []
  const own = new Set(addresses.map(canonicalHost))
  const myip = canonicalHost(p.MYIP)
  // The development cluster on Linux: every 127/8 address is this machine's once lo has one of them.
  const devLoopback = opts.allowLoopback && isLoopbackV4(myip) && addresses.some(isLoopbackV4)
  if (!own.has(myip) && !devLoopback)
    problems.push({
      name: 'MYIP',
      message:
        `${p.MYIP} is not an address of this jail (it has ${[...own].join(', ') || 'none'}): PostgreSQL, ` +
        `Patroni and the Consul agent bind MYIP. Give the jail this address (pot create -N alias -i ` +
        `"<interface>|${p.MYIP}", or -N inherit on a host that has it) or set MYIP to one the jail has`,
    })
  if (p.DCS === 'consul' && !own.has('127.0.0.1') && !devLoopback)
    problems.push({
      name: 'DCS',
      message:
        'DCS=consul needs a loopback address in the jail, and 127.0.0.1 is not one of its addresses (an ' +
        'alias jail has no loopback of its own: 127.0.0.1 would be its first address, and the Consul ' +
        "agent's HTTP API, which answers anyone without ACLs, would listen on the network). Use a jail " +
        'with its own lo0 (-N public-bridge or private-bridge) or -N inherit, or DCS=etcd',
    })
  return problems
}
