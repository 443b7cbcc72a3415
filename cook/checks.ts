// The checks a parameter's text goes through: each turns text into a typed value or says why not.
// cook/params.ts names the parameters and picks one check each; the value type a check gives is the
// type that parameter has in `Params`.
import {
  authority,
  canonicalHost,
  isHostname,
  isPlainIP,
  parseCidr,
  parseHostPort,
  shown,
  unusableAddress,
} from './net.js'
import { parsePgParams, refusal } from './pgparams.js'
import { PORTS } from './ports.js'
import { parseCertificates, parsePrivateKey, pemText } from './tls.js'

/** A checked value, or why the text is not one. */
export type Checked<T> = { value: T } | { why: string }

/** A check of one parameter's text. */
export type Check<T> = (text: string, opts: CheckOptions) => Checked<T>

export type Slot =
  { name: string; type: 'physical' } | { name: string; type: 'logical'; database: string; plugin: string }

export interface CheckOptions {
  /** Development only: accept loopback MYIP (the local cluster on 127.0.0.0/8). */
  allowLoopback: boolean
  /** The jail's `/`, under which a certificate given as a path is read (default `/`). */
  root?: string
}

export const ok = <T>(value: T): { value: T } => ({ value })
export const bad = (why: string): { why: string } => ({ why })

export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return (text) => (values.includes(text as T) ? ok(text as T) : bad(`${shown(text)} is not one of them`))
}

export function integer(min: number, max: number): Check<number> {
  return (text) => {
    if (!/^\d+$/.test(text)) return bad(`${shown(text)} is not a whole number`)
    const n = Number(text)
    return n < min || n > max ? bad(`${n} is out of range`) : ok(n)
  }
}

/** Splits a list written with commas and/or spaces; quotes around items (the seed image's form) are dropped. */
export function splitList(text: string): string[] {
  return text
    .replace(/["']/g, ' ')
    .split(/[\s,]+/)
    .filter((item) => item !== '')
}

export function password(what: string, pgpass: boolean): Check<string> {
  return (text) => {
    if (text.includes('\0')) return bad('contains a NUL byte, which PostgreSQL cannot store')
    if (/\p{Cs}/u.test(text)) return bad('is not valid Unicode text (a lone surrogate)')
    if (pgpass && /[\r\n]/.test(text))
      return bad(`contains a line break, which would corrupt the pgpass file that ${what} needs`)
    return ok(text)
  }
}

/**
 * Every value the README, pot.conf.example and the Nomad job show for a secret (test/unit/secret-strength.test.ts
 * collects them from those files and fails when one is missing here): a copied example is no secret.
 */
export const EXAMPLE_SECRETS: readonly string[] = [
  '...',
  'change-me',
  'pa$$word',
  'cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc=',
  '00000000-0000-0000-0000-000000000000',
  'AKIAIOSFODNN7EXAMPLE',
  'paste the output of openssl rand -base64 48',
]

/**
 * A password (KEKPASS, ADMPASS, and every other one given explicitly; derived ones are 32 characters): at
 * least `min` characters (Unicode code points,
 * as a person counts them) and none of the documentation's examples, after the checks of `inner`.
 */
export function strongPassword(min: number, inner: Check<string>): Check<string> {
  return (text, o) => {
    const checked = inner(text, o)
    if ('why' in checked) return checked
    const lower = text.trim().toLowerCase()
    if (EXAMPLE_SECRETS.some((e) => e.toLowerCase() === lower))
      return bad('is an example value from the documentation')
    const length = [...text].length
    return length < min ? bad(`has ${length} characters; want at least ${min}`) : checked
  }
}

export function gossipKey(text: string): Checked<string> {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return bad('is not base64')
  const bytes = Buffer.from(text, 'base64').length
  return [16, 24, 32].includes(bytes) ? ok(text) : bad(`decodes to ${bytes} bytes`)
}

export function consulServers(text: string): Checked<string[]> {
  // IPv6 may come in brackets, as Consul's own retry_join wants it; the plan adds them back.
  const servers = splitList(text).map((s) => (/^\[.*\]$/.test(s) ? s.slice(1, -1) : s))
  const wrong = servers.filter((s) => !isPlainIP(s) && !isHostname(s))
  if (wrong.length > 0) return bad(`${wrong.map(shown).join(', ')} is not an IP address or host name`)
  const canonical = servers.map(canonicalHost)
  const dups = servers.filter((_, i) => canonical.indexOf(canonical[i] ?? '') !== i)
  if (dups.length > 0) return bad(`${[...new Set(dups)].join(', ')} is listed twice`)
  if (![1, 3, 5].includes(servers.length))
    return bad(
      `has ${servers.length} server(s); Consul keeps a quorum with an odd count (1, 3 or 5): ` +
        `${servers.length === 0 ? 'none is no cluster' : `${servers.length} tolerates no more failures than ${servers.length - 1}`}`,
    )
  return ok(servers)
}

export function hostPorts(defaultPort: number): Check<string[]> {
  return (text) => {
    const items = splitList(text)
    if (items.length === 0) return bad('is empty')
    const out: string[] = []
    for (const item of items) {
      const hp = parseHostPort(item, defaultPort)
      if (typeof hp === 'string') return bad(hp)
      out.push(authority(hp.host, hp.port))
    }
    const dups = out.filter((hp, i) => out.indexOf(hp) !== i)
    if (dups.length > 0) return bad(`${[...new Set(dups)].join(', ')} is listed twice`)
    return ok(out)
  }
}

/** host:port, or an http:// URL with nothing after the authority; the value is host:port. */
export function etcdProxy(text: string): Checked<string> {
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/]*)\/?$/i.exec(text)
  if (!m) return bad(`${shown(text)} has a path`)
  if (m[1] !== undefined && m[1].toLowerCase() !== 'http')
    return bad(`${shown(text)} is not http:// (Patroni reaches a local proxy in plain HTTP)`)
  const hp = parseHostPort(m[2] ?? '', PORTS.etcdClient)
  return typeof hp === 'string' ? bad(hp) : ok(authority(hp.host, hp.port))
}

/** A CA bundle, a certificate (with its intermediates) or a key, as PEM text. */
export function pem(kind: 'ca' | 'cert' | 'key'): Check<string> {
  return (text, o) => {
    const got = pemText(text, o.root ?? '/')
    if ('why' in got) return bad(got.why)
    if (kind === 'key') {
      const key = parsePrivateKey(got.pem)
      return typeof key === 'string' ? bad(key) : ok(got.pem)
    }
    const certs = parseCertificates(got.pem)
    if (typeof certs === 'string') return bad(certs)
    if (kind === 'ca') {
      const notCa = certs.filter((c) => !c.ca)
      if (notCa.length > 0)
        return bad(
          `${notCa.map((c) => `"${c.subject.split('\n').join(', ')}"`).join(', ')} is not a CA certificate`,
        )
    } else if (certs[0]?.ca)
      return bad("its first certificate is a CA; want this member's own certificate first")
    return ok(got.pem)
  }
}

export function networks(text: string): Checked<string[]> {
  const items = splitList(text)
  if (items.length === 0) return bad('is empty')
  const out: string[] = []
  for (const item of items) {
    const cidr = parseCidr(item)
    if (typeof cidr === 'string') return bad(cidr)
    if (cidr.prefix === 0) return bad(`${shown(item)} admits every address on the internet`)
    out.push(`${cidr.address}/${cidr.prefix}`)
  }
  return ok(out)
}

/** A yes/no parameter: on/off, true/false, yes/no, 1/0 (PostgreSQL's and YAML's spellings alike). */
export function onOff(text: string): Checked<boolean> {
  const t = text.toLowerCase()
  if (['on', 'true', 'yes', '1'].includes(t)) return ok(true)
  if (['off', 'false', 'no', '0'].includes(t)) return ok(false)
  return bad(`${shown(text)} is not on or off`)
}

/** A role or database name that never needs quoting in SQL or YAML. */
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

/** Roles that cook or PostgreSQL own: an application must not own its database as one of them. */
const SERVICE_ROLES = ['postgres', 'replicator', 'rewinder', 'monitor', 'public']

export function pgParams(text: string): Checked<Record<string, string>> {
  const parsed = parsePgParams(text)
  if ('why' in parsed) return bad(parsed.why)
  const refused = Object.entries(parsed.value)
    .map(([name, value]) => refusal(name, value))
    .filter((r): r is string => r !== undefined)
  return refused.length > 0 ? bad(refused.join('; ')) : ok(parsed.value)
}

export const SLOT_NAME = /^[a-z0-9_]{1,63}$/

/** name, name:physical, or name:logical:database[:plugin] (plugin pgoutput when left out). */
export function slots(text: string): Checked<Slot[]> {
  const out: Slot[] = []
  for (const item of splitList(text)) {
    const [name = '', type = 'physical', database, plugin = 'pgoutput', ...extra] = item.split(':')
    if (!SLOT_NAME.test(name)) return bad(`${shown(name)} is not a slot name (a-z, 0-9, _; at most 63)`)
    if (out.some((s) => s.name === name)) return bad(`${name} is listed twice`)
    if (extra.length > 0) return bad(`${shown(item)} has too many parts`)
    if (type === 'physical' && database === undefined) out.push({ name, type })
    else if (
      type === 'logical' &&
      database !== undefined &&
      IDENT.test(database) &&
      /^[a-z0-9_]+$/.test(plugin)
    )
      out.push({ name, type, database, plugin })
    else return bad(`${shown(item)} is neither name[:physical] nor name:logical:database[:plugin]`)
  }
  return out.length > 0 ? ok(out) : bad('is empty')
}

/** Text that matches a pattern (or passes a test) as it is; otherwise "<text> <what>". */
export function matching(test: RegExp | ((text: string) => boolean), what: string): Check<string> {
  const passes = typeof test === 'function' ? test : (t: string) => test.test(t)
  return (text) => (passes(text) ? ok(text) : bad(`${shown(text)} ${what}`))
}

/** A DNS label in lower case (SCOPE, a stanza). */
export const LOWER_DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** An address the other members can reach; loopback only where the options allow it (the dev cluster). */
export function reachableAddress(text: string, o: CheckOptions): Checked<string> {
  const why = unusableAddress(text, o.allowLoopback)
  return why ? bad(`${shown(text)}: ${why}`) : ok(text)
}

/** MONPASS: a password postgres_exporter can log in with. */
export function exporterPassword(text: string, o: CheckOptions): Checked<string> {
  const checked = password('postgres_exporter', true)(text, o)
  // postgres_exporter trims its password file (DATA_SOURCE_PASS_FILE): such a password could never log in.
  if ('value' in checked && text.trim() !== text)
    return bad('begins or ends with white space, which postgres_exporter trims from its password file')
  return checked
}

/** METRICSPASS: a basic-auth password Prometheus reads from its (trimmed) password_file, hashed with bcrypt. */
export function metricsPassword(text: string, o: CheckOptions): Checked<string> {
  const checked = password('nothing', false)(text, o)
  if (!('value' in checked)) return checked
  if (/[\r\n]/.test(text)) return bad("contains a line break, which Prometheus's password_file cannot hold")
  if (text.trim() !== text)
    return bad('begins or ends with white space, which Prometheus trims from its password_file')
  if (Buffer.byteLength(text, 'utf8') > 72) return bad('is longer than 72 bytes, where bcrypt stops reading')
  return checked
}

/**
 * A Consul ACL token. Consul reads agent.hcl as HCL 1, where `${` cannot be escaped in a string; a token
 * never needs such characters, so the schema keeps them out of every file the token lands in.
 */
export function consulToken(text: string): Checked<string> {
  return /^[A-Za-z0-9._~+/=-]{1,512}$/.test(text)
    ? ok(text)
    : bad('has characters a Consul token does not have')
}

/** host or host:port; the value is the text as given. */
export function hostPort(defaultPort: number): Check<string> {
  return (text) => {
    const hp = parseHostPort(text, defaultPort)
    return typeof hp === 'string' ? bad(hp) : ok(text)
  }
}

/** DBNAME: a new database's name, none that every cluster has already. */
export function databaseName(text: string): Checked<string> {
  return !IDENT.test(text)
    ? bad(`${shown(text)} is not a lower-case SQL name`)
    : ['postgres', 'template0', 'template1'].includes(text)
      ? bad(`${text} exists already in every cluster`)
      : ok(text)
}

/** DBOWNER: an application's role, none of PostgreSQL's or Patroni's. */
export function ownerRole(text: string): Checked<string> {
  return !IDENT.test(text)
    ? bad(`${shown(text)} is not a lower-case SQL name`)
    : SERVICE_ROLES.includes(text) || text.startsWith('pg_')
      ? bad(`${text} is a role of PostgreSQL or of Patroni, not an application's`)
      : ok(text)
}
