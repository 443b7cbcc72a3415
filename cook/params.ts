// The parameter schema: the one place that names, documents and checks every parameter.
// Help text, pot.conf.example, the README table and the Nomad job are derived from it or checked against it.
import { ParamError, type Problem } from './errors.js'
import {
  authority,
  canonicalHost,
  defaultSubnet,
  isDnsLabel,
  isHostname,
  isPlainIP,
  parseCidr,
  parseHostPort,
  shown,
  unusableAddress,
} from './net.js'
import { parsePgParams, refusal } from './pgparams.js'
import { derivePassword } from './secrets.js'
import { PORTS } from './ports.js'
import {
  checkCron,
  checkEndpoint,
  checkPointInTime,
  checkRepo,
  checkS3Credential,
  isS3,
  type PointInTime,
  type Repo,
} from './backup.js'
import { checkMaterial, parseCertificates, parsePrivateKey, pemSummary, pemText } from './tls.js'

export type ServiceTag = 'master' | 'replica' | 'standby-leader'
export type SyncMode = 'off' | 'on' | 'strict'
export type Dcs = 'consul' | 'etcd'
export type OnOff = 'on' | 'off'
export type Slot =
  { name: string; type: 'physical' } | { name: string; type: 'logical'; database: string; plugin: string }

/** Resolved, validated parameters: what the rest of the cook works from. */
export interface Params {
  DATACENTER: string | undefined
  NODENAME: string
  MYIP: string
  SERVICETAG: ServiceTag
  CONSULSERVERS: string[]
  ADMPASS: string
  KEKPASS: string
  GOSSIPKEY: string | undefined
  REPPASS: string
  REWINDPASS: string
  OLDKEKPASS: string | undefined
  MONPASS: string
  SCOPE: string
  DCS: Dcs
  ETCDHOSTS: string[]
  ETCDPROXY: string | undefined
  TTL: number
  LOOPWAIT: number
  RETRYTIMEOUT: number
  SYNCMODE: SyncMode
  MAXLAG: number
  ALLOWNETS: string[]
  CONSULTOKEN: string | undefined
  STANDBYHOST: string | undefined
  STOPTIMEOUT: number
  BACKUPREPO: Repo
  S3ENDPOINT: string | undefined
  S3REGION: string
  S3KEY: string | undefined
  S3SECRET: string | undefined
  S3URISTYLE: 'host' | 'path'
  S3CAFILE: string | undefined
  BACKUPKEEP: number
  BACKUPFULL: string
  BACKUPDIFF: string
  ARCHIVETIMEOUT: number
  RESTORETIME: PointInTime | undefined
  RESTORESTANZA: string | undefined
  RESTPASS: string
  TLS: OnOff
  TLSCA: string | undefined
  TLSCERT: string | undefined
  TLSKEY: string | undefined
  CONSULAUTOENCRYPT: OnOff
  DBNAME: string | undefined
  DBOWNER: string
  PGPARAMS: Record<string, string>
  MEMORY: number | undefined
  NOFAILOVER: boolean
  NOSYNC: boolean
  NOLOADBALANCE: boolean
  REPLICATEFROM: string | undefined
  FAILSAFE: boolean
  STANDBYSLOT: string | undefined
  STANDBYSTANZA: string | undefined
  SLOTS: Slot[]
}

export type ParamName = keyof Params

/** The raw text of each parameter after merging the sources, before checks. */
export type RawParams = Partial<Record<ParamName, string>>

type Checked = { value: unknown } | { why: string }

interface Spec {
  /** One line of documentation: --help, README, pot.conf.example. */
  doc: string
  /** What a valid value looks like; every error message ends with it. */
  want: string
  /** A value for examples (pot.conf.example, the Nomad job's variables). */
  example: string
  aliases?: readonly string[]
  secret?: boolean
  /** PEM material: NAME_B64 is accepted too, as for secrets (pot's environment cannot carry line breaks). */
  pem?: boolean
  /** Required always (true) or when the other raw values say so; then `requiredDoc` says when. */
  required?: boolean | ((raw: RawParams) => boolean)
  requiredDoc?: string
  /** Default, computed from the other (already checked) values; its text is `defaultDoc`. */
  fallback?: (p: Params) => unknown
  defaultDoc?: string
  check: (text: string, opts: CheckOptions) => Checked
}

export interface CheckOptions {
  /** Development only: accept loopback MYIP (the local cluster on 127.0.0.0/8). */
  allowLoopback: boolean
  /** The jail's `/`, under which a certificate given as a path is read (default `/`). */
  root?: string
}

const ok = (value: unknown): Checked => ({ value })
const bad = (why: string): Checked => ({ why })

function oneOf<T extends string>(values: readonly T[]) {
  return (text: string): Checked =>
    values.includes(text as T) ? ok(text) : bad(`${shown(text)} is not one of them`)
}

function integer(min: number, max: number) {
  return (text: string): Checked => {
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

function password(what: string, pgpass: boolean) {
  return (text: string): Checked => {
    if (text.includes('\0')) return bad('contains a NUL byte, which PostgreSQL cannot store')
    if (/\p{Cs}/u.test(text)) return bad('is not valid Unicode text (a lone surrogate)')
    if (pgpass && /[\r\n]/.test(text))
      return bad(`contains a line break, which would corrupt the pgpass file that ${what} needs`)
    return ok(text)
  }
}

function gossipKey(text: string): Checked {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return bad('is not base64')
  const bytes = Buffer.from(text, 'base64').length
  return [16, 24, 32].includes(bytes) ? ok(text) : bad(`decodes to ${bytes} bytes`)
}

function consulServers(text: string): Checked {
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

function hostPorts(defaultPort: number) {
  return (text: string): Checked => {
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
function etcdProxy(text: string): Checked {
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/]*)\/?$/i.exec(text)
  if (!m) return bad(`${shown(text)} has a path`)
  if (m[1] !== undefined && m[1].toLowerCase() !== 'http')
    return bad(`${shown(text)} is not http:// (Patroni reaches a local proxy in plain HTTP)`)
  const hp = parseHostPort(m[2] ?? '', PORTS.etcdClient)
  return typeof hp === 'string' ? bad(hp) : ok(authority(hp.host, hp.port))
}

/** A CA bundle, a certificate (with its intermediates) or a key, as PEM text. */
function pem(kind: 'ca' | 'cert' | 'key') {
  return (text: string, o: CheckOptions): Checked => {
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

function networks(text: string): Checked {
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
function onOff(text: string): Checked {
  const t = text.toLowerCase()
  if (['on', 'true', 'yes', '1'].includes(t)) return ok(true)
  if (['off', 'false', 'no', '0'].includes(t)) return ok(false)
  return bad(`${shown(text)} is not on or off`)
}

/** A role or database name that never needs quoting in SQL or YAML. */
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

/** Roles that cook or PostgreSQL own: an application must not own its database as one of them. */
const SERVICE_ROLES = ['postgres', 'replicator', 'rewinder', 'public']

function pgParams(text: string): Checked {
  const parsed = parsePgParams(text)
  if ('why' in parsed) return bad(parsed.why)
  const refused = Object.entries(parsed.value)
    .map(([name, value]) => refusal(name, value))
    .filter((r): r is string => r !== undefined)
  return refused.length > 0 ? bad(refused.join('; ')) : ok(parsed.value)
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/

/** name, name:physical, or name:logical:database[:plugin] (plugin pgoutput when left out). */
function slots(text: string): Checked {
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

const SECRET_EXAMPLE = 'change-me'
const tlsOn = (raw: RawParams) => (raw.TLS ?? 'on') === 'on'

/** STOPTIMEOUT's default: also `cook stop`'s when rc.conf cannot be read, and the rc.d script's. */
export const DEFAULT_STOP_TIMEOUT_S = 25

export const PARAMS: Record<ParamName, Spec> = {
  DATACENTER: {
    doc: 'Consul datacenter of this member',
    want: '1 to 64 characters of a-z, 0-9, "-" and "_"',
    example: 'dc1',
    required: (raw) => (raw.DCS ?? 'consul') === 'consul',
    requiredDoc: 'with DCS=consul, the default',
    check: (t) => (/^[a-z0-9_-]{1,64}$/.test(t) ? ok(t) : bad(`${shown(t)} has other characters or length`)),
  },
  NODENAME: {
    doc: 'unique member name (Patroni member name and Consul node name)',
    want: 'a DNS label: letters, digits and "-", at most 63 characters, no dots',
    example: 'pg1',
    required: true,
    check: (t) => (isDnsLabel(t) ? ok(t) : bad(`${shown(t)} is not a DNS label`)),
  },
  MYIP: {
    doc: "this jail's own address; PostgreSQL, the REST API and the Consul agent bind and advertise it",
    want: 'an IPv4 or IPv6 address that other members can reach (not loopback, 0.0.0.0 or ::)',
    example: '10.0.0.11',
    aliases: ['IP'],
    required: true,
    check: (t, o) => {
      const why = unusableAddress(t, o.allowLoopback)
      return why ? bad(`${shown(t)}: ${why}`) : ok(t)
    },
  },
  SERVICETAG: {
    doc: 'how this member joins: master may initialise a new cluster, replica only clones from an existing one, standby-leader follows STANDBYHOST',
    want: 'one of master, replica, standby-leader',
    example: 'master',
    required: true,
    check: oneOf(['master', 'replica', 'standby-leader'] as const),
  },
  CONSULSERVERS: {
    doc: 'the Consul servers to join, e.g. "10.0.0.2", "10.0.0.3", "10.0.0.4" or 10.0.0.2,10.0.0.3,10.0.0.4',
    want: '1, 3 or 5 distinct IP addresses or host names, separated by commas or spaces',
    example: '"10.0.0.2", "10.0.0.3", "10.0.0.4"',
    required: (raw) => (raw.DCS ?? 'consul') === 'consul',
    requiredDoc: 'with DCS=consul, the default',
    check: consulServers,
  },
  ADMPASS: {
    doc: 'password of the "admin" role (CREATEROLE, CREATEDB) for applications and operators',
    want: 'a non-empty password',
    example: SECRET_EXAMPLE,
    secret: true,
    required: true,
    check: password('nothing', false),
  },
  KEKPASS: {
    doc: 'password of the "postgres" superuser, used by Patroni only',
    want: 'a non-empty password without line breaks',
    example: SECRET_EXAMPLE,
    secret: true,
    required: true,
    check: password('Patroni', true),
  },
  GOSSIPKEY: {
    doc: 'Consul gossip encryption key, as printed by `consul keygen`',
    want: 'base64 of a 32-byte key (16 or 24 bytes accepted for older clusters)',
    example: 'cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc=',
    secret: true,
    required: (raw) => (raw.DCS ?? 'consul') === 'consul',
    requiredDoc: 'with DCS=consul, the default',
    check: gossipKey,
  },
  REPPASS: {
    doc: 'password of the "replicator" role used for streaming replication',
    want: 'a non-empty password without line breaks',
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (HKDF-SHA256)',
    fallback: (p) => derivePassword(p.KEKPASS, p.SCOPE, 'replication'),
    check: password('pg_basebackup', true),
  },
  REWINDPASS: {
    doc: 'password of the "rewinder" role that pg_rewind uses to rejoin a former leader',
    want: 'a non-empty password without line breaks',
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (HKDF-SHA256)',
    fallback: (p) => derivePassword(p.KEKPASS, p.SCOPE, 'rewind'),
    check: password('pg_rewind', true),
  },
  OLDKEKPASS: {
    doc: 'while KEKPASS is being rotated: the superuser password the running cluster still has, so that cook can log in to the leader once and set the new passwords (a pot jail also finds it in its own patroni.yml; a fresh Nomad jail needs it); remove it afterwards',
    want: 'a non-empty password',
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'none',
    check: password('nothing', false),
  },
  MONPASS: {
    doc: 'password of the "monitor" role (pg_monitor, not a superuser) that postgres_exporter logs in with',
    want: 'a non-empty password without line breaks or spaces at either end',
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (HKDF-SHA256)',
    fallback: (p) => derivePassword(p.KEKPASS, p.SCOPE, 'monitor'),
    check: (text) => {
      const checked = password('postgres_exporter', true)(text)
      // postgres_exporter trims its password file (DATA_SOURCE_PASS_FILE): such a password could never log in.
      if ('value' in checked && text.trim() !== text)
        return bad('begins or ends with white space, which postgres_exporter trims from its password file')
      return checked
    },
  },
  SCOPE: {
    doc: 'cluster name: the same on every member; Patroni scope and Consul service name',
    want: 'a DNS label in lower case',
    example: 'postgresql',
    defaultDoc: 'postgresql',
    fallback: () => 'postgresql',
    check: (t) =>
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(t) ? ok(t) : bad(`${shown(t)} is not a DNS label`),
  },
  DCS: {
    doc: 'where Patroni keeps the leader lock: the local Consul agent, or etcd (ETCDHOSTS)',
    want: 'consul or etcd',
    example: 'consul',
    defaultDoc: 'consul',
    fallback: () => 'consul',
    check: oneOf(['consul', 'etcd'] as const),
  },
  ETCDHOSTS: {
    doc: 'etcd endpoints when DCS=etcd (not needed with ETCDPROXY)',
    want: `host:port items separated by commas or spaces (port ${PORTS.etcdClient} when left out)`,
    example: '10.0.0.2:2379,10.0.0.3:2379,10.0.0.4:2379',
    // A given ETCDPROXY counts even when it is invalid: its own problem is the one to report.
    required: (raw) => raw.DCS === 'etcd' && raw.ETCDPROXY === undefined,
    requiredDoc: 'with DCS=etcd, unless ETCDPROXY is given',
    fallback: () => [],
    defaultDoc: 'none',
    check: hostPorts(PORTS.etcdClient),
  },
  ETCDPROXY: {
    doc: "a local etcd gateway or grpc-proxy that Patroni must use as its only way to etcd (DCS=etcd): no discovery of the cluster's members bypasses it",
    want: `host:port or http://host:port of an etcd gateway/grpc-proxy (port ${PORTS.etcdClient} when left out)`,
    example: '127.0.0.1:23790',
    defaultDoc: 'none',
    check: etcdProxy,
  },
  TTL: {
    doc: 'seconds the leader lock lives without renewal: an unplanned failover takes about this long',
    want: 'a whole number of seconds from 10 to 3600 (20 or more with Consul)',
    example: '30',
    defaultDoc: '30',
    fallback: () => 30,
    check: integer(10, 3600),
  },
  LOOPWAIT: {
    doc: "seconds between runs of Patroni's HA loop",
    want: 'a whole number of seconds from 1 to 600',
    example: '10',
    defaultDoc: '10',
    fallback: () => 10,
    check: integer(1, 600),
  },
  RETRYTIMEOUT: {
    doc: 'seconds Patroni retries the DCS and PostgreSQL before it demotes the leader',
    want: 'a whole number of seconds from 3 to 600',
    example: '10',
    defaultDoc: '10',
    fallback: () => 10,
    check: integer(3, 600),
  },
  SYNCMODE: {
    doc: 'synchronous replication: off, on (never fail over to a replica that may miss a commit), strict (also refuse writes with no sync replica)',
    want: 'off, on or strict',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => 'off',
    check: oneOf(['off', 'on', 'strict'] as const),
  },
  MAXLAG: {
    doc: 'bytes a replica may lag behind and still be promoted (maximum_lag_on_failover)',
    want: 'a whole number of bytes',
    example: '1048576',
    defaultDoc: '1048576',
    fallback: () => 1048576,
    check: integer(0, Number.MAX_SAFE_INTEGER),
  },
  ALLOWNETS: {
    doc: 'networks allowed to connect (pg_hba.conf), for replication and clients alike',
    want: 'CIDR networks such as 10.0.0.0/24, separated by commas or spaces, none of them /0',
    example: '10.0.0.0/24',
    defaultDoc: 'the subnet of MYIP (/24 for IPv4, /64 for IPv6)',
    fallback: (p) => [defaultSubnet(p.MYIP)],
    check: networks,
  },
  CONSULTOKEN: {
    doc: 'Consul ACL token for the agent and Patroni, when the Consul cluster enforces ACLs',
    want: 'a Consul ACL token (a SecretID such as a UUID): letters, digits and . _ ~ + / = -',
    example: '00000000-0000-0000-0000-000000000000',
    secret: true,
    defaultDoc: 'none',
    // Consul reads agent.hcl as HCL 1, where `${` cannot be escaped in a string; a token never needs
    // such characters, so the schema keeps them out of every file the token lands in.
    check: (t) =>
      /^[A-Za-z0-9._~+/=-]{1,512}$/.test(t) ? ok(t) : bad('has characters a Consul token does not have'),
  },
  STANDBYHOST: {
    doc: 'the remote primary (host or host:port) that a standby-leader member replicates from',
    want: `an IP address or host name, with an optional :port (default ${PORTS.postgres})`,
    example: '10.1.0.11:5432',
    required: (raw) => raw.SERVICETAG === 'standby-leader',
    requiredDoc: 'with SERVICETAG=standby-leader',
    defaultDoc: 'none',
    check: (t) => {
      const hp = parseHostPort(t, PORTS.postgres)
      return typeof hp === 'string' ? bad(hp) : ok(t)
    },
  },
  STOPTIMEOUT: {
    doc: 'seconds `cook stop` waits for Patroni to hand over and exit when the jail stops',
    want: 'a whole number of seconds from 5 to 300',
    example: String(DEFAULT_STOP_TIMEOUT_S),
    defaultDoc: String(DEFAULT_STOP_TIMEOUT_S),
    fallback: () => DEFAULT_STOP_TIMEOUT_S,
    check: integer(5, 300),
  },
  BACKUPREPO: {
    doc: 'the pgBackRest repository for WAL archive and backups: off, a directory shared by the members (e.g. a mounted dataset), or s3://bucket/prefix (with S3ENDPOINT, S3KEY, S3SECRET)',
    want: 'off, an absolute path, or s3://bucket or s3://bucket/prefix',
    example: 's3://pg-backups/postgresql',
    defaultDoc: 'off (no WAL archive, no backups: `cook check` says so)',
    fallback: () => ({ type: 'off' }),
    check: checkRepo,
  },
  S3ENDPOINT: {
    doc: 'the S3-compatible endpoint (HTTPS) of BACKUPREPO=s3://...',
    want: 'a host name or IP address with an optional :port (443 when left out)',
    example: 's3.eu-central-1.amazonaws.com',
    required: (raw) => isS3(raw.BACKUPREPO),
    requiredDoc: 'with BACKUPREPO=s3://...',
    defaultDoc: 'none',
    check: checkEndpoint,
  },
  S3REGION: {
    doc: 'the S3 region of the bucket (S3-compatible servers usually accept any)',
    want: 'a region name: letters, digits and "-"',
    example: 'eu-central-1',
    defaultDoc: 'us-east-1',
    fallback: () => 'us-east-1',
    check: (t) => (/^[a-z0-9-]{1,64}$/.test(t) ? ok(t) : bad(`${shown(t)} is not a region name`)),
  },
  S3KEY: {
    doc: 'the S3 access key id of BACKUPREPO=s3://...',
    want: 'visible ASCII characters, no blanks',
    example: 'AKIAIOSFODNN7EXAMPLE',
    secret: true,
    required: (raw) => isS3(raw.BACKUPREPO),
    requiredDoc: 'with BACKUPREPO=s3://...',
    defaultDoc: 'none',
    check: checkS3Credential,
  },
  S3SECRET: {
    doc: 'the S3 secret access key of BACKUPREPO=s3://...',
    want: 'visible ASCII characters, no blanks',
    example: SECRET_EXAMPLE,
    secret: true,
    required: (raw) => isS3(raw.BACKUPREPO),
    requiredDoc: 'with BACKUPREPO=s3://...',
    defaultDoc: 'none',
    check: checkS3Credential,
  },
  S3URISTYLE: {
    doc: 'how the bucket is addressed: host (bucket.endpoint, AWS) or path (endpoint/bucket, most self-hosted servers)',
    want: 'host or path',
    example: 'host',
    defaultDoc: 'host',
    fallback: () => 'host',
    check: oneOf(['host', 'path'] as const),
  },
  S3CAFILE: {
    doc: "a CA bundle in the jail that signs the S3 endpoint's certificate, for a private CA",
    want: 'an absolute path',
    example: '/usr/local/etc/ssl/s3-ca.pem',
    defaultDoc: "the system's CA certificates",
    check: (t) =>
      /^(\/[A-Za-z0-9._@+-]+)+$/.test(t) ? ok(t) : bad(`${shown(t)} is not a plain absolute path`),
  },
  BACKUPKEEP: {
    doc: 'full backups to keep (older ones and the WAL they need are expired)',
    want: 'a whole number from 1 to 100',
    example: '2',
    defaultDoc: '2',
    fallback: () => 2,
    check: integer(1, 100),
  },
  BACKUPFULL: {
    doc: "when the leader takes a full backup: a cron schedule in the jail's time zone",
    want: 'five cron fields (minute hour day-of-month month day-of-week) of numbers, ranges, lists, steps or *',
    example: '15 1 * * 0',
    defaultDoc: '15 1 * * 0 (Sundays 01:15)',
    fallback: () => '15 1 * * 0',
    check: (t) => checkCron(t, false),
  },
  BACKUPDIFF: {
    doc: 'when the leader takes a differential backup (changes since the last full one), or off',
    want: 'off, or five cron fields of numbers, ranges, lists, steps or *',
    example: '15 1 * * 1-6',
    defaultDoc: '15 1 * * 1-6 (Monday to Saturday 01:15)',
    fallback: () => '15 1 * * 1-6',
    check: (t) => checkCron(t, true),
  },
  ARCHIVETIMEOUT: {
    doc: 'seconds after which the leader archives a WAL segment even when it is not full: the bound on data lost with the whole cluster (RPO)',
    want: 'a whole number of seconds from 10 to 3600',
    example: '60',
    defaultDoc: '60',
    fallback: () => 60,
    check: integer(10, 3600),
  },
  RESTORETIME: {
    doc: 'create this cluster from the repository as it was at this time (first start of the master member only; the others join as replicas)',
    want: 'YYYY-MM-DD HH:MM:SS[.ffffff] with a zone, e.g. 2026-11-30 23:10:05+00',
    example: '2026-11-30 23:10:05+00',
    defaultDoc: 'none: a new cluster starts empty (initdb)',
    check: checkPointInTime,
  },
  RESTORESTANZA: {
    doc: 'the stanza (SCOPE of the old cluster) RESTORETIME restores from; the restored cluster archives into its own SCOPE',
    want: 'a DNS label in lower case',
    example: 'postgresql',
    defaultDoc: 'SCOPE',
    check: (t) =>
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(t) ? ok(t) : bad(`${shown(t)} is not a DNS label`),
  },
  RESTPASS: {
    doc: 'password of user "patroni" for the unsafe endpoints of the REST API (switchover, restart, reinitialize, config); patronictl on the member reads it from patroni.yml',
    want: 'a non-empty password',
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (HKDF-SHA256)',
    fallback: (p) => derivePassword(p.KEKPASS, p.SCOPE, 'restapi'),
    check: password('nothing', false),
  },
  TLS: {
    doc: 'on: PostgreSQL (hostssl only), the REST API (HTTPS) and the DCS links use TLS with TLSCA, TLSCERT, TLSKEY; off gives all of that up (plain text, no server verification) and needs saying so',
    want: 'on or off',
    example: 'on',
    defaultDoc: 'on',
    fallback: () => 'on',
    check: oneOf(['on', 'off'] as const),
  },
  TLSCA: {
    doc: 'CA certificate(s) that sign the members, etcd and the Consul servers: PEM, base64 of PEM (TLSCA_B64 too) or a path in the jail',
    want: 'PEM CA certificate(s), their base64, or an absolute path to a PEM file',
    example: '/mnt/tls/ca.crt',
    pem: true,
    required: tlsOn,
    requiredDoc: 'with TLS=on, the default',
    defaultDoc: 'none',
    check: pem('ca'),
  },
  TLSCERT: {
    doc: "this member's certificate (then any intermediates), signed by TLSCA, with MYIP in its subjectAltName: PEM, base64 (TLSCERT_B64 too) or a path in the jail",
    want: 'a PEM certificate chain, its base64, or an absolute path to a PEM file',
    example: '/mnt/tls/member.crt',
    pem: true,
    required: tlsOn,
    requiredDoc: 'with TLS=on, the default',
    defaultDoc: 'none',
    check: pem('cert'),
  },
  TLSKEY: {
    doc: 'the private key of TLSCERT, unencrypted: PEM, base64 (TLSKEY_B64) or a path in the jail',
    want: 'a PEM private key, its base64, or an absolute path to a PEM file',
    example: '/mnt/tls/member.key',
    secret: true,
    pem: true,
    required: tlsOn,
    requiredDoc: 'with TLS=on, the default',
    defaultDoc: 'none',
    check: pem('key'),
  },
  CONSULAUTOENCRYPT: {
    doc: 'on: the Consul agent asks the servers for its RPC certificate (auto_encrypt; the servers must allow it); off: it presents TLSCERT. Either way it verifies the servers against TLSCA',
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => 'off',
    check: oneOf(['on', 'off'] as const),
  },
  DBNAME: {
    doc: 'an application database created when the cluster is first created, owned by DBOWNER (who can then create tables in its public schema)',
    want: 'a lower-case SQL name: a-z, 0-9 and _, not starting with a digit, at most 63 characters; not postgres or template0/1',
    example: 'app',
    defaultDoc: 'none',
    check: (t) =>
      !IDENT.test(t)
        ? bad(`${shown(t)} is not a lower-case SQL name`)
        : ['postgres', 'template0', 'template1'].includes(t)
          ? bad(`${t} exists already in every cluster`)
          : ok(t),
  },
  DBOWNER: {
    doc: 'owner of DBNAME; cook creates it (NOLOGIN, granted to admin) when it is not admin; admin gives it a password',
    want: 'a lower-case SQL name: a-z, 0-9 and _, not starting with a digit; not postgres, replicator or rewinder',
    example: 'admin',
    defaultDoc: 'admin',
    fallback: () => 'admin',
    check: (t) =>
      !IDENT.test(t)
        ? bad(`${shown(t)} is not a lower-case SQL name`)
        : SERVICE_ROLES.includes(t) || t.startsWith('pg_')
          ? bad(`${t} is a role of PostgreSQL or of Patroni, not an application's`)
          : ok(t),
  },
  PGPARAMS: {
    doc: "postgresql.conf parameters, checked against the installed server; those Patroni takes only from the DCS (max_connections, wal_level, ...) go to bootstrap.dcs, the others to this member's postgresql.parameters",
    want: "name=value items separated by spaces, a value with spaces in single quotes (name='a b'); no parameter Patroni or cook owns (port, listen_addresses, hot_standby, archive_command, ...)",
    example: 'work_mem=16MB max_connections=200',
    defaultDoc: 'none',
    fallback: () => ({}),
    check: pgParams,
  },
  MEMORY: {
    doc: "the member's memory in MB, from which shared_buffers (25 %), effective_cache_size (75 %) and maintenance_work_mem (1/16) are derived; PGPARAMS overrides each",
    want: 'a whole number of MB from 256 to 16777216',
    example: '2048',
    aliases: ['NOMAD_MEMORY_LIMIT'],
    defaultDoc: "Nomad's NOMAD_MEMORY_LIMIT; without it PostgreSQL's own defaults",
    check: integer(256, 16777216),
  },
  NOFAILOVER: {
    doc: 'never promote this member (Patroni tag nofailover): e.g. a backup or reporting member',
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
  },
  NOSYNC: {
    doc: 'never choose this member as the synchronous standby (Patroni tag nosync)',
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
  },
  NOLOADBALANCE: {
    doc: "keep this member out of the read pool: its /replica check answers 503, so HAProxy's :5001 drops it (Patroni tag noloadbalance)",
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
  },
  REPLICATEFROM: {
    doc: 'cascading replication: stream from this other member (its NODENAME) instead of the leader (Patroni tag replicatefrom)',
    want: 'the NODENAME of another member',
    example: 'pg2',
    defaultDoc: 'none: from the leader',
    check: (t) => (isDnsLabel(t) ? ok(t) : bad(`${shown(t)} is not a member name`)),
  },
  FAILSAFE: {
    doc: "Patroni's failsafe_mode (bootstrap.dcs): a leader that loses the DCS keeps accepting writes while every other member answers its POST /failsafe; without it the leader demotes when the DCS is away",
    want: 'on or off',
    example: 'on',
    defaultDoc: 'on',
    fallback: () => true,
    check: onOff,
  },
  STANDBYSLOT: {
    doc: 'the replication slot a standby-leader streams through on the remote primary (primary_slot_name); the primary cluster must keep it as a permanent slot (its SLOTS); ignored unless SERVICETAG=standby-leader',
    want: 'a slot name: a-z, 0-9 and _, at most 63 characters',
    example: 'standby_postgresql',
    defaultDoc: 'standby_<SCOPE> (- as _) with SERVICETAG=standby-leader',
    fallback: (p) =>
      p.SERVICETAG === 'standby-leader' ? `standby_${p.SCOPE.replace(/-/g, '_')}` : undefined,
    check: (t) => (SLOT_NAME.test(t) ? ok(t) : bad(`${shown(t)} is not a slot name`)),
  },
  STANDBYSTANZA: {
    doc: "the primary cluster's stanza (its SCOPE) in the same BACKUPREPO: a standby cluster fetches from its WAL archive (restore_command) what streaming from STANDBYHOST cannot serve, e.g. after a cut longer than the slot holds",
    want: 'a DNS label in lower case',
    example: 'postgresql',
    defaultDoc: 'none: the standby cluster only streams',
    check: (t) =>
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(t) ? ok(t) : bad(`${shown(t)} is not a DNS label`),
  },
  SLOTS: {
    doc: "permanent replication slots the cluster keeps on its leader for consumers outside it (Patroni's slots, bootstrap.dcs): a standby cluster's STANDBYSLOT, logical replication",
    want: 'items name (physical) or name:logical:database[:plugin] (pgoutput when left out), separated by commas or spaces',
    example: 'standby_dr',
    defaultDoc: 'none',
    fallback: () => [],
    check: slots,
  },
}

export const PARAM_NAMES = Object.keys(PARAMS) as ParamName[]
export const SECRET_NAMES = PARAM_NAMES.filter((n) => PARAMS[n].secret)

export function isRequired(name: ParamName, raw: RawParams): boolean {
  const r = PARAMS[name].required
  return typeof r === 'function' ? r(raw) : r === true
}

/**
 * The error line for a value. Plain values are quoted by the checks; a secret's checks never quote it,
 * and should one ever do, the value is cut out here as well, raw and quoted.
 */
function describe(name: ParamName, why: string, text: string): string {
  const spec = PARAMS[name]
  const hidden = spec.secret
    ? [shown(text), text].reduce((msg, v) => (v === '' ? msg : msg.split(v).join('(value hidden)')), why)
    : why
  return `${hidden}; want ${spec.want}`
}

/** Checks every parameter and the rules between them; throws one ParamError listing every problem. */
export function validate(input: RawParams, opts: CheckOptions = { allowLoopback: false }): Params {
  // Empty counts as missing everywhere, also where one parameter decides whether another is required.
  const raw: RawParams = {}
  for (const name of PARAM_NAMES) if (input[name] !== undefined && input[name] !== '') raw[name] = input[name]
  const problems: Problem[] = []
  const out: Record<string, unknown> = {}
  for (const name of PARAM_NAMES) {
    const text = raw[name]
    if (text === undefined) {
      if (isRequired(name, raw))
        problems.push({ name, message: `is missing or empty; want ${PARAMS[name].want}` })
      continue
    }
    const result = PARAMS[name].check(text, opts)
    if ('why' in result) problems.push({ name, message: describe(name, result.why, text) })
    else out[name] = result.value
  }
  // Defaults are computed only from valid values; a rule between parameters runs when all of its
  // inputs are valid, so one run reports as much as can be known.
  const invalid = new Set(problems.map((p) => p.name))
  // Plain defaults first, then those computed from other values (REPPASS needs SCOPE's default).
  const order = [...PARAM_NAMES].sort((a, b) => Number(a in FALLBACK_NEEDS) - Number(b in FALLBACK_NEEDS))
  for (const name of order) {
    const fallback = PARAMS[name].fallback
    if (out[name] !== undefined || !fallback || invalid.has(name)) continue
    const needs = FALLBACK_NEEDS[name] ?? []
    if (needs.every((n) => out[n] !== undefined)) out[name] = fallback(out as unknown as Params)
  }
  if (out.CONSULSERVERS === undefined) out.CONSULSERVERS = []
  for (const rule of RULES)
    if (rule.needs.every((n) => !invalid.has(n) && out[n] !== undefined)) {
      const message = rule.broken(out as unknown as Params)
      if (message) problems.push({ name: rule.name, message })
    }
  problems.push(...tlsProblems(out as unknown as Params, invalid))
  if (problems.length > 0) throw new ParamError(problems)
  return out as unknown as Params
}

/** Parameters a default is computed from. */
const FALLBACK_NEEDS: Partial<Record<ParamName, ParamName[]>> = {
  REPPASS: ['KEKPASS', 'SCOPE'],
  REWINDPASS: ['KEKPASS', 'SCOPE'],
  RESTPASS: ['KEKPASS', 'SCOPE'],
  MONPASS: ['KEKPASS', 'SCOPE'],
  ALLOWNETS: ['MYIP'],
  STANDBYSLOT: ['SCOPE', 'SERVICETAG'],
}

interface Rule {
  /** The parameter the problem is reported under. */
  name: ParamName
  needs: ParamName[]
  broken: (p: Params) => string | undefined
}

/** Rules that tie parameters together. */
const RULES: Rule[] = [
  {
    name: 'TTL',
    needs: ['TTL', 'LOOPWAIT', 'RETRYTIMEOUT'],
    broken: (p) =>
      p.LOOPWAIT + 2 * p.RETRYTIMEOUT > p.TTL
        ? `${p.TTL} is less than LOOPWAIT + 2 × RETRYTIMEOUT = ${p.LOOPWAIT + 2 * p.RETRYTIMEOUT}; ` +
          'want TTL >= LOOPWAIT + 2 × RETRYTIMEOUT, or a leader could lose its lock while still retrying'
        : undefined,
  },
  {
    name: 'TTL',
    needs: ['TTL', 'DCS'],
    broken: (p) =>
      p.DCS === 'consul' && p.TTL < 20
        ? `${p.TTL} is below 20; want 20 or more with DCS=consul (Consul's session TTL floor is 10 s and Patroni asks for TTL/2)`
        : undefined,
  },
  {
    name: 'SYNCMODE',
    needs: ['SYNCMODE', 'SERVICETAG'],
    broken: (p) =>
      p.SERVICETAG === 'standby-leader' && p.SYNCMODE !== 'off'
        ? 'a standby cluster cannot be synchronous; want off with SERVICETAG=standby-leader'
        : undefined,
  },
  {
    name: 'STANDBYHOST',
    needs: ['SERVICETAG'],
    broken: (p) =>
      p.SERVICETAG === 'master' && p.STANDBYHOST !== undefined
        ? 'is set, but SERVICETAG=master starts a cluster of its own; want STANDBYHOST only with SERVICETAG=standby-leader (or replica)'
        : undefined,
  },
  {
    name: 'RESTORETIME',
    needs: ['RESTORETIME', 'BACKUPREPO', 'SERVICETAG'],
    broken: (p) =>
      // Replicas may carry it too (one parameter set for the whole group): they never bootstrap.
      p.RESTORETIME !== undefined && p.BACKUPREPO.type === 'off'
        ? 'is set, but BACKUPREPO=off: there is no repository to restore from; want BACKUPREPO too'
        : p.RESTORETIME !== undefined && p.SERVICETAG === 'standby-leader'
          ? 'is set with SERVICETAG=standby-leader, which follows STANDBYHOST instead; want one of the two'
          : undefined,
  },
  {
    name: 'RESTORESTANZA',
    needs: ['RESTORESTANZA'],
    broken: (p) =>
      p.RESTORESTANZA !== undefined && p.RESTORETIME === undefined
        ? 'is set without RESTORETIME; want both, or neither'
        : undefined,
  },
  {
    name: 'STANDBYSTANZA',
    needs: ['STANDBYSTANZA', 'BACKUPREPO', 'SCOPE'],
    broken: (p) =>
      p.STANDBYHOST === undefined
        ? "is set without STANDBYHOST: only a standby cluster reads another cluster's archive; want STANDBYHOST too"
        : p.BACKUPREPO.type === 'off'
          ? "is set, but BACKUPREPO=off; want BACKUPREPO naming the primary cluster's repository"
          : p.STANDBYSTANZA === p.SCOPE
            ? "is this cluster's own SCOPE, which it archives into once promoted; want the primary cluster's SCOPE, a different one"
            : undefined,
  },
  ...(['S3KEY', 'S3SECRET', 'S3ENDPOINT', 'S3CAFILE'] as const).map((name): Rule => ({
    name,
    needs: [name, 'BACKUPREPO'],
    broken: (p) =>
      p[name] !== undefined && p.BACKUPREPO.type !== 's3'
        ? 'is set, but BACKUPREPO is not s3://...; want it only with an S3 repository'
        : undefined,
  })),
  {
    name: 'NOFAILOVER',
    needs: ['NOFAILOVER', 'SERVICETAG'],
    broken: (p) =>
      p.NOFAILOVER && p.SERVICETAG !== 'replica'
        ? `is on, but SERVICETAG=${p.SERVICETAG} must be able to lead (Patroni never bootstraps a nofailover member); want NOFAILOVER only with SERVICETAG=replica`
        : undefined,
  },
  {
    name: 'REPLICATEFROM',
    needs: ['REPLICATEFROM', 'NODENAME'],
    broken: (p) =>
      p.REPLICATEFROM === p.NODENAME
        ? 'names this member itself; want the NODENAME of another member'
        : undefined,
  },
  {
    name: 'SLOTS',
    needs: ['SLOTS', 'PGPARAMS'],
    broken: (p) =>
      p.SLOTS.some((s) => s.type === 'logical') && p.PGPARAMS.wal_level?.toLowerCase() !== 'logical'
        ? 'has a logical slot; want PGPARAMS with wal_level=logical as well'
        : undefined,
  },
]

/** The certificates against each other and this member; with TLS=off, that none is given. */
function tlsProblems(p: Params, invalid: Set<string>): Problem[] {
  const names = ['TLSCA', 'TLSCERT', 'TLSKEY'] as const
  if (p.TLS === 'off')
    return names
      .filter((n) => p[n] !== undefined)
      .map((name) => ({
        name,
        message: 'is given, but TLS=off; want TLS=on with the certificates, or neither',
      }))
  if (p.TLS !== 'on' || [...names, 'MYIP', 'NODENAME'].some((n) => invalid.has(n))) return []
  const { TLSCA: ca, TLSCERT: cert, TLSKEY: key } = p
  if (ca === undefined || cert === undefined || key === undefined) return []
  return checkMaterial({ ca, cert, key }, { ip: p.MYIP, name: p.NODENAME })
}

/** Shows resolved parameters with every secret replaced by <redacted>. */
export function redacted(p: Params): Record<ParamName, string> {
  const out = {} as Record<ParamName, string>
  for (const name of PARAM_NAMES) {
    const v = p[name]
    out[name] =
      v === undefined
        ? ''
        : PARAMS[name].secret
          ? '<redacted>'
          : PARAMS[name].pem
            ? pemSummary(String(v))
            : shownValue(name, v)
  }
  return out
}

/** The text of a parameter whose checked value is an object (BACKUPREPO, RESTORETIME). */
function objectText(v: Repo | PointInTime): string {
  if ('text' in v) return v.text
  return v.type === 'off'
    ? 'off'
    : v.type === 's3'
      ? `s3://${v.bucket}${v.path === '/' ? '' : v.path}`
      : v.path
}

/** A resolved value as text, in the parameter's own syntax. */
function shownValue(name: ParamName, v: unknown): string {
  if (name === 'BACKUPREPO' || name === 'RESTORETIME') return objectText(v as Repo | PointInTime)
  if (Array.isArray(v))
    return v.map((item) => (typeof item === 'object' ? slotText(item as Slot) : String(item))).join(',')
  if (typeof v === 'boolean') return v ? 'on' : 'off'
  if (typeof v === 'object' && v !== null)
    return Object.entries(v as Record<string, string>)
      .map(([k, x]) => (/^[^\s']*$/.test(x) && x !== '' ? `${k}=${x}` : `${k}='${x.replace(/'/g, "''")}'`))
      .join(' ')
  return String(v)
}

const slotText = (s: Slot) =>
  s.type === 'physical'
    ? s.name
    : `${s.name}:logical:${s.database}${s.plugin === 'pgoutput' ? '' : `:${s.plugin}`}`
