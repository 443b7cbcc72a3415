// cook haproxy: the HAProxy configuration for clients in front of the cluster's members.
import { writeFileSync } from 'node:fs'
import { defineCommand } from '../command.js'
import { CookError, type Problem } from '../errors.js'
import { haproxyConfig, parseMembers, unsafeFileName } from '../haproxy.js'
import { unusableAddress } from '../net.js'
import { PORTS } from '../ports.js'

function port(name: string, text: string | undefined, fallback: number, problems: Problem[]): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535)
    problems.push({ name, message: `"${text}" is not a port from 1 to 65535` })
  return n
}

export default defineCommand({
  summary:
    `Prints the HAProxy configuration that routes :${PORTS.haproxyPrimary} to the primary and :${PORTS.haproxyReplicas} to the replicas, ` +
    "using each member's Patroni REST API as health check: over HTTPS verified against --ca-file (the " +
    "cluster's TLSCA) and the member's NAME, or --plain-checks for a cluster with TLS=off. HAProxy " +
    'listens only on the --bind addresses.',
  usage: `cook haproxy --members [NAME=]HOST[:RESTPORT:PGPORT],... --bind ADDR[,ADDR...] (--ca-file FILE | --plain-checks) [--primary-port ${PORTS.haproxyPrimary}] [--replica-port ${PORTS.haproxyReplicas}] [--out FILE]`,
  options: {
    members: { type: 'string' },
    bind: { type: 'string' },
    'primary-port': { type: 'string' },
    'replica-port': { type: 'string' },
    out: { type: 'string' },
    'ca-file': { type: 'string' },
    'plain-checks': { type: 'boolean' },
  },
  run: async (values, positionals, io) => {
    if (positionals.length > 0)
      throw new CookError(
        'USAGE',
        `unexpected argument(s): ${positionals.join(' ')}; see cook haproxy --help`,
      )
    const { members, problems } = parseMembers(values.members ?? '')
    // No default address: where clients can reach the cluster is the operator's decision, said out loud
    // (0.0.0.0 or :: included).
    const bind = (values.bind ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '')
    if (bind.length === 0)
      problems.push({
        name: '--bind',
        message:
          'is missing; want the address(es) HAProxy listens on, e.g. 127.0.0.1 or 10.0.0.5 (0.0.0.0 for every IPv4 address)',
      })
    for (const addr of bind) {
      const why = unusableAddress(addr, true)
      if (why && !why.startsWith('the unspecified'))
        problems.push({ name: '--bind', message: `"${addr}": ${why}` })
    }
    const primaryPort = port('--primary-port', values['primary-port'], PORTS.haproxyPrimary, problems)
    const replicaPort = port('--replica-port', values['replica-port'], PORTS.haproxyReplicas, problems)
    if (primaryPort === replicaPort)
      problems.push({ name: '--replica-port', message: 'must differ from --primary-port' })
    const caFile = values['ca-file'] ?? null
    const plain = values['plain-checks'] === true
    if ((caFile === null) === !plain)
      problems.push({
        name: '--ca-file',
        message:
          caFile === null
            ? "is missing; want the cluster's CA (TLSCA) as a file, or --plain-checks for a cluster with TLS=off"
            : 'and --plain-checks exclude each other',
      })
    const why = caFile === null ? undefined : unsafeFileName(caFile)
    if (why) problems.push({ name: '--ca-file', message: why })
    if (caFile !== null)
      for (const m of members.filter((m) => m.verifyName === null))
        problems.push({
          name: '--members',
          message: `${m.host} has no name: with --ca-file write NAME=${m.host}, NAME being a DNS name in that member's certificate (its NODENAME), which the HTTPS check verifies (HAProxy compares DNS names, not addresses)`,
        })
    if (problems.length > 0) throw new CookError('USAGE', 'invalid options', problems)
    const text = haproxyConfig({ members, bind, primaryPort, replicaPort, caFile })
    const out = values.out
    if (out === undefined) io.out(text.trimEnd())
    else writeFileSync(out, text, { mode: 0o644 })
    return 0
  },
})
