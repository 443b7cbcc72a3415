// Address helpers on top of node:net: what counts as a usable member address, CIDR parsing, host names.
import { isIP, isIPv4, isIPv6 } from 'node:net'

/** Expands an IPv6 address into its 16 bytes (no zone id). */
function ipv6Bytes(addr: string): number[] {
  let text = addr
  const tail: number[] = []
  const lastColon = text.lastIndexOf(':')
  const maybeV4 = text.slice(lastColon + 1)
  if (isIPv4(maybeV4)) {
    tail.push(...maybeV4.split('.').map(Number))
    text = text.slice(0, lastColon + 1) + '0:0'
  }
  const [head = '', rest] = text.split('::')
  const headParts = head === '' ? [] : head.split(':')
  const restParts = rest === undefined || rest === '' ? [] : rest.split(':')
  const missing = 8 - headParts.length - restParts.length
  const groups = [...headParts, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...restParts]
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g, 16)
    return [n >> 8, n & 0xff]
  })
  if (tail.length === 4) bytes.splice(12, 4, ...tail)
  return bytes
}

export function ipBytes(addr: string): number[] {
  return isIPv4(addr) ? addr.split('.').map(Number) : ipv6Bytes(addr)
}

function bytesToIp(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.')
  // RFC 5952 section 5: an IPv4-mapped address keeps its IPv4 part dotted, ::ffff:192.0.2.1.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen && j - i > 1) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}

/**
 * An IPv4 or IPv6 address without a zone index: node's isIP accepts `fe80::1%em0`, but a zone only means
 * something on one host, and every address here is written into files that other members read.
 */
export function isPlainIP(text: string): boolean {
  return isIP(text) !== 0 && !text.includes('%')
}

function unusableV4(b: number[], allowLoopback: boolean): string | undefined {
  if (b.every((x) => x === 0)) return 'the unspecified address cannot be reached by other members'
  if (b[0] === 127 && !allowLoopback) return 'a loopback address cannot be reached by other members'
  if ((b[0] ?? 0) >= 224 && (b[0] ?? 0) <= 239) return 'a multicast address is not a host address'
  if (b.every((x) => x === 255)) return 'the broadcast address is not a host address'
  if (b[0] === 169 && b[1] === 254) return 'a link-local address is not routable between hosts'
  return undefined
}

/** Why an address cannot identify a cluster member, or undefined when it can. */
export function unusableAddress(addr: string, allowLoopback: boolean): string | undefined {
  if (addr.includes('%') && isIP(addr)) return 'a zone index (%...) only has a meaning on one host'
  if (!isIP(addr)) return 'not an IPv4 or IPv6 address'
  const b = ipBytes(addr)
  if (isIPv4(addr)) return unusableV4(b, allowLoopback)
  // IPv4-mapped (::ffff:a.b.c.d) follows the IPv4 rules: ::ffff:127.0.0.1 is loopback too.
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return unusableV4(b.slice(12), allowLoopback)
  if (b.every((x) => x === 0)) return 'the unspecified address cannot be reached by other members'
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1 && !allowLoopback)
    return 'a loopback address cannot be reached by other members'
  if (b[0] === 0xff) return 'a multicast address is not a host address'
  if (b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80)
    return 'a link-local address is not routable between hosts'
  return undefined
}

export interface Cidr {
  address: string
  prefix: number
}

/** Parses `addr/prefix` (or a bare address, taken as a host route) into its network form. */
export function parseCidr(text: string): Cidr | string {
  const [addr = '', prefixText, extra] = text.split('/')
  if (extra !== undefined) return `${shown(text)} has more than one "/"`
  if (!isPlainIP(addr)) return `${shown(addr)} is not an IPv4 or IPv6 address`
  const bits = isIPv4(addr) ? 32 : 128
  const prefix = prefixText === undefined ? bits : Number(prefixText)
  if (!/^\d{1,3}$/.test(prefixText ?? String(bits)) || prefix > bits)
    return `"/${prefixText}" is not a prefix length from 0 to ${bits}`
  return { address: networkOf(addr, prefix), prefix }
}

/** The network address of `addr` under a prefix length (host bits cleared). */
export function networkOf(addr: string, prefix: number): string {
  const b = ipBytes(addr)
  return bytesToIp(
    b.map((byte, i) => {
      const keep = Math.max(0, Math.min(8, prefix - i * 8))
      return byte & ((0xff << (8 - keep)) & 0xff)
    }),
  )
}

/** The widest networks taken without ALLOWWIDENETS=on: a /16 of IPv4, a /48 (a site) of IPv6. */
export const WIDEST = { v4: 16, v6: 48 } as const

/**
 * Whether a network is wider than WIDEST. An IPv4-mapped IPv6 network (::ffff:0:0/96) counts by its IPv4
 * part: ::ffff:0.0.0.0/96 is every IPv4 address, however narrow /96 looks.
 */
export function isWide(cidr: Cidr): boolean {
  if (isIPv4(cidr.address)) return cidr.prefix < WIDEST.v4
  const b = ipBytes(cidr.address)
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  if (mapped && cidr.prefix >= 96) return cidr.prefix - 96 < WIDEST.v4
  return cidr.prefix < WIDEST.v6
}

/** The member's own subnet, the default for ALLOWNETS: /24 for IPv4, /64 for IPv6. */
export function defaultSubnet(addr: string): string {
  const prefix = isIPv6(addr) ? 64 : 24
  return `${networkOf(addr, prefix)}/${prefix}`
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i

/** True for a DNS host name: dot-separated labels, at most 253 characters, not all-numeric. */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false
  const labels = text.replace(/\.$/, '').split('.')
  if (labels.every((l) => /^\d+$/.test(l))) return false
  return labels.every((l) => LABEL.test(l))
}

export function isDnsLabel(text: string): boolean {
  return LABEL.test(text)
}

/** A host (IP or DNS name) with an optional port; IPv6 with a port is written [addr]:port. */
export function parseHostPort(
  text: string,
  defaultPort: number | undefined,
): { host: string; port: number } | string {
  let host = text
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) {
    host = bracketed[1] ?? ''
    portText = bracketed[2]
  } else if (isIP(text) === 0 && text.includes(':')) {
    const i = text.lastIndexOf(':')
    host = text.slice(0, i)
    portText = text.slice(i + 1)
  }
  if (!isPlainIP(host) && !isHostname(host)) return `${shown(host)} is neither an IP address nor a host name`
  if (portText === undefined) {
    if (defaultPort === undefined) return `${shown(text)} has no port (want host:port)`
    return { host, port: defaultPort }
  }
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535)
    return `${shown(portText)} is not a port from 1 to 65535`
  return { host, port }
}

/**
 * A value as error messages show it: JSON-quoted, so a line break or control character cannot split or
 * garble the one line each problem gets, and shortened when long.
 */
export function shown(text: string): string {
  const chars = [...text]
  return JSON.stringify(chars.length > 64 ? `${chars.slice(0, 60).join('')}...` : text)
}

/** host:port as a URL authority (IPv6 in brackets). */
export function authority(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`
}

/** One spelling per host, so duplicates are found: IPv6 compressed in lower case, names in lower case. */
export function canonicalHost(host: string): string {
  if (isIP(host)) return bytesToIp(ipBytes(host))
  return host.toLowerCase().replace(/\.$/, '')
}
