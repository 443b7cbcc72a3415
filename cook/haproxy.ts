// The HAProxy configuration that gives applications one endpoint for the primary and one for the replicas.
// Every value is checked here, so the template interpolates only addresses, ports and names that cannot
// break HAProxy's syntax (HAProxy has no quoting for them).
import { isIPv6 } from 'node:net'
import type { Problem } from './errors.js'
import { authority, isHostname, isPlainIP, parseHostPort } from './net.js'
import { renderTemplate } from './render.js'
import { PORTS } from './ports.js'

export interface HaproxyMember {
  name: string
  host: string
  restPort: number
  pgPort: number
  /**
   * The DNS name the health check wants in the member's certificate (subjectAltName or CN): the NAME the
   * operator wrote, or HOST when it is a host name; null for an address without a name (then the HTTPS
   * checks cannot verify whose certificate it is, and `cook haproxy --ca-file` refuses the member).
   */
  verifyName: string | null
}

export interface HaproxyOptions {
  members: HaproxyMember[]
  /** Addresses to listen on (HAProxy listens nowhere it is not told: no default). */
  bind: readonly string[]
  primaryPort: number
  replicaPort: number
  /**
   * The cluster's CA (TLSCA) as a file HAProxy reads: the health checks then speak HTTPS to the REST API and
   * refuse a member whose certificate does not chain to it. Null only for a cluster with TLS=off.
   */
  caFile: string | null
}

/** HAProxy cannot quote a file name: one with spaces, quotes or '#' would change the config's meaning. */
export function unsafeFileName(path: string): string | undefined {
  if (!path.startsWith('/')) return `"${path}" is not an absolute path`
  return /^[A-Za-z0-9._/+-]+$/.test(path)
    ? undefined
    : `"${path}" has characters HAProxy cannot take unquoted`
}

/**
 * One member: `[NAME=]HOST[:RESTPORT:PGPORT]` (IPv6 in brackets when ports follow). Both ports or none:
 * `HOST:PORT` alone would leave open whether PORT is the REST API or PostgreSQL.
 */
export function parseMember(text: string, index: number): HaproxyMember | string {
  const eq = text.indexOf('=')
  const named = eq >= 0
  const name = named ? text.slice(0, eq) : `member${index + 1}`
  const rest = named ? text.slice(eq + 1) : text
  if (!isHostname(name) || name.endsWith('.'))
    return `"${name}" is not a valid member name (a host name: letters, digits, "-" and dots)`
  const verify = (host: string): string | null => (named ? name : isPlainIP(host) ? null : host)
  const WANT = 'want HOST:RESTPORT:PGPORT (e.g. 10.0.0.11:8008:5432) or HOST alone'
  const ports = /^(.*):(\d{1,5}):(\d{1,5})$/.exec(rest)
  if (ports && !isIPv6(rest)) {
    const [, host = '', restText = '', pgText = ''] = ports
    if (host.includes(':') && !/^\[.*\]$/.test(host))
      return `"${rest}": write an IPv6 address in brackets when ports follow, e.g. [fd00::11]:8008:5432`
    const hp = parseHostPort(`${host}:${restText}`, undefined)
    if (typeof hp === 'string') return `"${rest}": ${hp}; ${WANT}`
    const pgPort = Number(pgText)
    if (pgPort < 1 || pgPort > 65535) return `"${rest}": "${pgText}" is not a port from 1 to 65535`
    return { name, host: hp.host, restPort: hp.port, pgPort, verifyName: verify(hp.host) }
  }
  if (/^[^:]*:\d+$|^\[.*\]:\d+$/.test(rest)) return `"${rest}" gives one port, which is ambiguous; ${WANT}`
  const hp = parseHostPort(rest, PORTS.patroniRest)
  if (typeof hp === 'string') return `"${rest}": ${hp}; ${WANT}`
  return {
    name,
    host: hp.host,
    restPort: PORTS.patroniRest,
    pgPort: PORTS.postgres,
    verifyName: verify(hp.host),
  }
}

/** A comma- or space-separated member list; every problem at once. */
export function parseMembers(text: string): { members: HaproxyMember[]; problems: Problem[] } {
  const items = text.split(/[\s,]+/).filter((item) => item !== '')
  const members: HaproxyMember[] = []
  const problems: Problem[] = []
  if (items.length === 0)
    problems.push({ name: '--members', message: 'is empty; want HOST:RESTPORT:PGPORT,...' })
  items.forEach((item, i) => {
    const m = parseMember(item, i)
    if (typeof m === 'string') problems.push({ name: '--members', message: m })
    else members.push(m)
  })
  const names = members.map((m) => m.name)
  for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
    problems.push({ name: '--members', message: `the name ${dup} is used twice` })
  return { members, problems }
}

export function haproxyConfig(opts: HaproxyOptions): string {
  if (opts.bind.length === 0) throw new Error('HAProxy needs an address to listen on')
  const bind = (port: number) => opts.bind.map((addr) => authority(addr, port)).join(',')
  const checkTls = (m: HaproxyMember) => {
    if (opts.caFile === null) return ''
    if (m.verifyName === null)
      throw new Error(`member ${m.host} has no name for the HTTPS check to verify in its certificate`)
    return ` check-ssl verify required ca-file ${opts.caFile} verifyhost ${m.verifyName}`
  }
  return renderTemplate('haproxy.cfg', {
    primaryPort: opts.primaryPort,
    replicaPort: opts.replicaPort,
    primaryBind: bind(opts.primaryPort),
    replicaBind: bind(opts.replicaPort),
    members: opts.members.map((m) => ({
      name: m.name,
      pgAddress: authority(m.host, m.pgPort),
      restPort: m.restPort,
      checkTls: checkTls(m),
    })),
  })
}
