// The parameter schema: the one place that names, documents and checks every parameter.
// Help text, pot.conf.example, the README table and the Nomad job are derived from it or checked against it,
// and so is the type `Params` the rest of the cook works from. The checks are in cook/checks.ts.
import { ParamError, type Problem } from './errors.js'
import { defaultSubnet, isDnsLabel, isWide, parseCidr, shown, WIDEST } from './net.js'
import { derivePassword } from './secrets.js'
import { PORTS } from './ports.js'
import {
  checkCron,
  checkEndpoint,
  checkPointInTime,
  checkRepo,
  checkS3Credential,
  cipherPass,
  isS3,
  MIN_CIPHER_PASS,
  type PointInTime,
  type Repo,
} from './backup.js'
import { checkMaterial, pemSummary } from './tls.js'
import {
  consulServers,
  consulToken,
  databaseName,
  etcdProxy,
  exporterPassword,
  metricsPassword,
  gossipKey,
  hostPort,
  hostPorts,
  integer,
  LOWER_DNS_LABEL,
  matching,
  networks,
  oneOf,
  onOff,
  ownerRole,
  password,
  pem,
  pgParams,
  reachableAddress,
  SLOT_NAME,
  slots,
  strongPassword,
  type Check,
  type CheckOptions,
  type Slot,
} from './checks.js'

export { EXAMPLE_SECRETS, splitList } from './checks.js'
export type { CheckOptions, Slot } from './checks.js'

/** The raw text of each parameter after merging the sources, before checks. */
export type RawParams = Partial<Record<ParamName, string>>

type Required = boolean | ((raw: RawParams) => boolean)

/**
 * What a rule or a computed default sees: the parameters it needs, each valid and set, and the others
 * as far as they are known yet (unset, invalid or not yet defaulted: undefined).
 */
export type Known<N extends ParamName> = { [K in N]: NonNullable<Params[K]> } & {
  [K in Exclude<ParamName, N>]?: Params[K] | undefined
}

/** A default: a constant, or computed from other parameters once all of `needs` are valid. */
export interface Fallback<F = unknown> {
  (p: Known<ParamName>): F
  readonly needs?: readonly ParamName[]
  /** Costs real time (a scrypt): left out when the run fails anyway and no rule needs its value. */
  readonly costly?: boolean
}

/** A condition between parameters: it runs when all of `needs` are valid and set. */
export interface Rule {
  readonly needs: readonly ParamName[]
  /** The problem, reported under the parameter the rule is on; or problems under names of their own. */
  readonly broken: (p: Known<ParamName>) => string | undefined | readonly Problem[]
}

/** One parameter: its documentation, its check (whose value type is the parameter's type), its default, its rules. */
export interface Spec<T = unknown, R extends Required = Required, F extends T | undefined = T | undefined> {
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
  required?: R
  requiredDoc?: string
  /** Default when the parameter is not given; its text is `defaultDoc`. */
  fallback?: Fallback<F>
  defaultDoc?: string
  check: Check<T>
  rules?: readonly Rule[]
}

function param<T, const R extends Required = Required, const F extends T | undefined = never>(
  spec: Spec<T, R, F>,
): Spec<T, R, F> {
  return spec
}

/**
 * A default computed from the parameters in `needs`: it sees them typed as set. Like a rule's `broken`
 * (below), `value` is written with its return type, or TypeScript would type it before the table.
 */
function from<const N extends ParamName, F>(needs: readonly N[], value: (p: Known<N>) => F): Fallback<F> {
  return Object.assign((p: Known<N>) => value(p), { needs })
}

/** A password derived from KEKPASS (secrets.ts derivePassword: one scrypt per cook run, then HKDF). */
function derived(purpose: string): Fallback<string> {
  const f = from(['KEKPASS', 'SCOPE'], (p): string => derivePassword(p.KEKPASS, p.SCOPE, purpose))
  return Object.assign(f, { costly: true })
}

/**
 * A rule on the parameters in `needs`: it sees them typed as set. `broken` is written with its return
 * type: a rule reads the parameter it is on, whose type TypeScript would otherwise need before the
 * entry is complete.
 */
function rule<const N extends ParamName>(
  needs: readonly N[],
  broken: (p: Known<N>) => string | undefined | readonly Problem[],
): Rule {
  return { needs, broken }
}

/** Refuses networks wider than WIDEST in ALLOWNETS or MEMBERNETS unless ALLOWWIDENETS=on says it is meant. */
function notWide(name: 'ALLOWNETS' | 'MEMBERNETS'): Rule {
  return rule([name, 'ALLOWWIDENETS'], (p): string | undefined => {
    if (p.ALLOWWIDENETS) return undefined
    const wide = p[name].filter((net) => {
      const cidr = parseCidr(net)
      return typeof cidr !== 'string' && isWide(cidr)
    })
    return wide.length === 0
      ? undefined
      : `${wide.join(', ')} ${wide.length === 1 ? 'is' : 'are'} wider than /${WIDEST.v4} (IPv6: /${WIDEST.v6}); want narrower networks, or ALLOWWIDENETS=on to say that this is meant`
  })
}

/** The value a parameter has after validate(): set when required or defaulted, else maybe undefined. */
type Resolved<S extends Spec> = S extends { check: Check<infer T> }
  ? NonNullable<S['required']> extends true
    ? T
    : [ReturnType<NonNullable<S['fallback']>>] extends [never]
      ? T | undefined
      : T | ReturnType<NonNullable<S['fallback']>>
  : never

const SECRET_EXAMPLE = 'change-me'
/**
 * KEKPASS opens the superuser and every derived password, and a leaked derived one (MONPASS, RESTPASS) lets
 * KEKPASS be guessed offline at scrypt's price: 16 characters, a machine secret (`openssl rand -base64 24`).
 * ADMPASS is only ever guessed online, through a login: NIST SP 800-63B-4's 15 characters for a password that
 * is the only factor.
 */
export const MIN_KEKPASS = 16
export const MIN_ADMPASS = 15
const tlsOn = (raw: RawParams) => (raw.TLS ?? 'on') === 'on'

/** A parameter that only means something with an S3 repository. */
const onlyWithS3 = <N extends 'S3KEY' | 'S3SECRET' | 'S3ENDPOINT' | 'S3CAFILE'>(name: N) =>
  rule([name, 'BACKUPREPO'], (p): string | undefined =>
    p[name] !== undefined && p.BACKUPREPO.type !== 's3'
      ? 'is set, but BACKUPREPO is not s3://...; want it only with an S3 repository'
      : undefined,
  )

/** A certificate parameter with TLS=off. */
const onlyWithTls = <N extends 'TLSCA' | 'TLSCERT' | 'TLSKEY'>(name: N) =>
  rule([name, 'TLS'], (p): string | undefined =>
    p.TLS === 'off' ? 'is given, but TLS=off; want TLS=on with the certificates, or neither' : undefined,
  )

/** A Consul token with CONSULACL=off. */
const onlyWithAcl = <N extends 'CONSULTOKEN' | 'CONSULAGENTTOKEN'>(name: N) =>
  rule([name, 'CONSULACL'], (p): string | undefined =>
    p.CONSULACL === 'off'
      ? 'is given, but CONSULACL=off; want CONSULACL=on with the token, or neither'
      : undefined,
  )

/** A path in the jail that cook names as it is: no blanks, quotes or shell characters. */
const plainAbsolutePath = matching(/^(\/[A-Za-z0-9._@+-]+)+$/, 'is not a plain absolute path')

/** STOPTIMEOUT's default: also `cook stop`'s when rc.conf cannot be read, and the rc.d script's. */
export const DEFAULT_STOP_TIMEOUT_S = 25

/**
 * The table. A class rather than an object literal so that TypeScript types each entry on its own: a
 * default or rule reads the types of other entries, which in one object literal would be circular.
 * Its fields are set in this order, the order of the documentation.
 */
class ParamTable {
  DATACENTER = param({
    doc: 'Consul datacenter of this member',
    want: '1 to 64 characters of a-z, 0-9, "-" and "_"',
    example: 'dc1',
    required: (raw) => (raw.DCS ?? 'consul') === 'consul',
    requiredDoc: 'with DCS=consul, the default',
    check: matching(/^[a-z0-9_-]{1,64}$/, 'has other characters or length'),
  })
  NODENAME = param({
    doc: 'unique member name (Patroni member name and Consul node name)',
    want: 'a DNS label: letters, digits and "-", at most 63 characters, no dots',
    example: 'pg1',
    required: true,
    check: matching(isDnsLabel, 'is not a DNS label'),
  })
  MYIP = param({
    doc: "this jail's own address; PostgreSQL, the REST API and the Consul agent bind and advertise it",
    want: 'an IPv4 or IPv6 address that other members can reach (not loopback, 0.0.0.0 or ::)',
    example: '10.0.0.11',
    aliases: ['IP'],
    required: true,
    check: reachableAddress,
  })
  SERVICETAG = param({
    doc: 'how this member joins: master may initialise a new cluster, replica only clones from an existing one, standby-leader follows STANDBYHOST',
    want: 'one of master, replica, standby-leader',
    example: 'master',
    required: true,
    check: oneOf(['master', 'replica', 'standby-leader']),
  })
  CONSULSERVERS = param({
    doc: 'the Consul servers to join, e.g. "10.0.0.2", "10.0.0.3", "10.0.0.4" or 10.0.0.2,10.0.0.3,10.0.0.4',
    want: '1, 3 or 5 distinct IP addresses or host names, separated by commas or spaces',
    example: '"10.0.0.2", "10.0.0.3", "10.0.0.4"',
    required: (raw) => (raw.DCS ?? 'consul') === 'consul',
    requiredDoc: 'with DCS=consul, the default',
    fallback: (): string[] => [],
    check: consulServers,
  })
  ADMPASS = param({
    doc: `password of the "admin" role (CREATEDB; CREATEROLE only on PostgreSQL 16 and later) for applications and operators; at least ${MIN_ADMPASS} characters`,
    want: `a password of at least ${MIN_ADMPASS} characters, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    required: true,
    check: strongPassword(MIN_ADMPASS, password('nothing', false)),
  })
  KEKPASS = param({
    doc: `password of the "postgres" superuser, used by Patroni only, and the key the default REPPASS, REWINDPASS, MONPASS and RESTPASS are derived from; at least ${MIN_KEKPASS} characters`,
    want: `a password of at least ${MIN_KEKPASS} characters without line breaks, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    required: true,
    check: strongPassword(MIN_KEKPASS, password('Patroni', true)),
  })
  GOSSIPKEY = param({
    doc: 'Consul gossip encryption key, as printed by `consul keygen`',
    want: 'base64 of a 32-byte key (16 or 24 bytes accepted for older clusters)',
    example: 'cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc=',
    secret: true,
    required: (raw) => (raw.DCS ?? 'consul') === 'consul',
    requiredDoc: 'with DCS=consul, the default',
    check: gossipKey,
  })
  REPPASS = param({
    doc: 'password of the "replicator" role used for streaming replication',
    want: `a password of at least ${MIN_KEKPASS} characters without line breaks, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (scrypt, then HKDF-SHA256)',
    fallback: derived('replication'),
    check: strongPassword(MIN_KEKPASS, password('pg_basebackup', true)),
  })
  REWINDPASS = param({
    doc: 'password of the "rewinder" role that pg_rewind uses to rejoin a former leader',
    want: `a password of at least ${MIN_KEKPASS} characters without line breaks, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (scrypt, then HKDF-SHA256)',
    fallback: derived('rewind'),
    check: strongPassword(MIN_KEKPASS, password('pg_rewind', true)),
  })
  OLDKEKPASS = param({
    doc: 'while KEKPASS is being rotated: the superuser password the running cluster still has, so that cook can log in to the leader once and set the new passwords (a pot jail also finds it in its own patroni.yml; a fresh Nomad jail needs it); remove it afterwards',
    want: 'a non-empty password',
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'none',
    check: password('nothing', false),
  })
  METRICSPASS = param({
    doc: 'password of user "prometheus" that Prometheus scrapes node_exporter and postgres_exporter with (HTTP basic auth, over TLS with TLS=on); the same on every member; the exporters keep only its bcrypt hash',
    want: `a password of at least ${MIN_KEKPASS} characters and at most 72 bytes (bcrypt reads no further) without line breaks or spaces at either end, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (set it to scrape: Prometheus needs it in its password_file)',
    fallback: from(['KEKPASS', 'SCOPE'], (p): string => derivePassword(p.KEKPASS, p.SCOPE, 'metrics')),
    check: strongPassword(MIN_KEKPASS, metricsPassword),
  })
  MONPASS = param({
    doc: 'password of the "monitor" role (pg_monitor, not a superuser) that postgres_exporter logs in with',
    want: `a password of at least ${MIN_KEKPASS} characters without line breaks or spaces at either end, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (scrypt, then HKDF-SHA256)',
    fallback: derived('monitor'),
    check: strongPassword(MIN_KEKPASS, exporterPassword),
  })
  SCOPE = param({
    doc: 'cluster name: the same on every member; Patroni scope and Consul service name',
    want: 'a DNS label in lower case',
    example: 'postgresql',
    defaultDoc: 'postgresql',
    fallback: () => 'postgresql',
    check: matching(LOWER_DNS_LABEL, 'is not a DNS label'),
  })
  DCS = param({
    doc: 'where Patroni keeps the leader lock: the local Consul agent, or etcd (ETCDHOSTS)',
    want: 'consul or etcd',
    example: 'consul',
    defaultDoc: 'consul',
    fallback: () => 'consul',
    check: oneOf(['consul', 'etcd']),
  })
  ETCDHOSTS = param({
    doc: 'etcd endpoints when DCS=etcd (not needed with ETCDPROXY)',
    want: `host:port items separated by commas or spaces (port ${PORTS.etcdClient} when left out)`,
    example: '10.0.0.2:2379,10.0.0.3:2379,10.0.0.4:2379',
    // A given ETCDPROXY counts even when it is invalid: its own problem is the one to report.
    required: (raw) => raw.DCS === 'etcd' && raw.ETCDPROXY === undefined,
    requiredDoc: 'with DCS=etcd, unless ETCDPROXY is given',
    fallback: (): string[] => [],
    defaultDoc: 'none',
    check: hostPorts(PORTS.etcdClient),
  })
  ETCDPROXY = param({
    doc: "a local etcd gateway or grpc-proxy that Patroni must use as its only way to etcd (DCS=etcd): no discovery of the cluster's members bypasses it",
    want: `host:port or http://host:port of an etcd gateway/grpc-proxy (port ${PORTS.etcdClient} when left out)`,
    example: '127.0.0.1:23790',
    defaultDoc: 'none',
    check: etcdProxy,
  })
  TTL = param({
    doc: 'seconds the leader lock lives without renewal: an unplanned failover takes about this long',
    want: 'a whole number of seconds from 10 to 3600 (20 or more with Consul)',
    example: '30',
    defaultDoc: '30',
    fallback: () => 30,
    check: integer(10, 3600),
    rules: [
      rule(['TTL', 'LOOPWAIT', 'RETRYTIMEOUT'], (p): string | undefined =>
        p.LOOPWAIT + 2 * p.RETRYTIMEOUT > p.TTL
          ? `${p.TTL} is less than LOOPWAIT + 2 × RETRYTIMEOUT = ${p.LOOPWAIT + 2 * p.RETRYTIMEOUT}; ` +
            'want TTL >= LOOPWAIT + 2 × RETRYTIMEOUT, or a leader could lose its lock while still retrying'
          : undefined,
      ),
      rule(['TTL', 'DCS'], (p): string | undefined =>
        p.DCS === 'consul' && p.TTL < 20
          ? `${p.TTL} is below 20; want 20 or more with DCS=consul (Consul's session TTL floor is 10 s and Patroni asks for TTL/2)`
          : undefined,
      ),
    ],
  })
  LOOPWAIT = param({
    doc: "seconds between runs of Patroni's HA loop",
    want: 'a whole number of seconds from 1 to 600',
    example: '10',
    defaultDoc: '10',
    fallback: () => 10,
    check: integer(1, 600),
  })
  RETRYTIMEOUT = param({
    doc: 'seconds Patroni retries the DCS and PostgreSQL before it demotes the leader',
    want: 'a whole number of seconds from 3 to 600',
    example: '10',
    defaultDoc: '10',
    fallback: () => 10,
    check: integer(3, 600),
  })
  SYNCMODE = param({
    doc: 'synchronous replication: off, on (never fail over to a replica that may miss a commit), strict (also refuse writes with no sync replica)',
    want: 'off, on or strict',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => 'off',
    check: oneOf(['off', 'on', 'strict']),
    rules: [
      rule(['SYNCMODE', 'SERVICETAG'], (p): string | undefined =>
        p.SERVICETAG === 'standby-leader' && p.SYNCMODE !== 'off'
          ? 'a standby cluster cannot be synchronous; want off with SERVICETAG=standby-leader'
          : undefined,
      ),
    ],
  })
  MAXLAG = param({
    doc: 'bytes a replica may lag behind and still be promoted (maximum_lag_on_failover)',
    want: 'a whole number of bytes',
    example: '1048576',
    defaultDoc: '1048576',
    fallback: () => 1048576,
    check: integer(0, Number.MAX_SAFE_INTEGER),
  })
  ALLOWNETS = param({
    doc: 'networks whose clients may connect to PostgreSQL (pg_hba.conf): admin and the roles it creates, never postgres, replicator, rewinder or monitor (see MEMBERNETS)',
    want: `CIDR networks such as 10.0.0.0/24, separated by commas or spaces; none wider than /${WIDEST.v4} (IPv6: /${WIDEST.v6}) unless ALLOWWIDENETS=on, never /0`,
    example: '10.0.0.0/24',
    defaultDoc: 'the subnet of MYIP (/24 for IPv4, /64 for IPv6)',
    fallback: from(['MYIP'], (p): string[] => [defaultSubnet(p.MYIP)]),
    check: networks,
    rules: [notWide('ALLOWNETS')],
  })
  MEMBERNETS = param({
    doc: "the members' addresses or networks: the only sources from which postgres (Patroni, cook), replicator and rewinder may connect to PostgreSQL and the REST API's unsafe endpoints may be called; a standby cluster's members must be in its primary cluster's MEMBERNETS",
    want: `CIDR networks or addresses such as 10.0.0.11/32, separated by commas or spaces; none wider than /${WIDEST.v4} (IPv6: /${WIDEST.v6}) unless ALLOWWIDENETS=on, never /0`,
    example: '10.0.0.11/32 10.0.0.12/32 10.0.0.13/32',
    defaultDoc: 'the subnet of MYIP (/24 for IPv4, /64 for IPv6)',
    fallback: from(['MYIP'], (p): string[] => [defaultSubnet(p.MYIP)]),
    check: networks,
    rules: [notWide('MEMBERNETS')],
  })
  ALLOWWIDENETS = param({
    doc: `on: ALLOWNETS and MEMBERNETS may name networks wider than /${WIDEST.v4} (IPv6: /${WIDEST.v6}); off refuses them as a likely mistake`,
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
  })
  CONSULTOKEN = param({
    doc: "Patroni's Consul ACL token (write on the keys and sessions of SCOPE and its service); also the agent's token unless CONSULAGENTTOKEN is given. Never the agent's default token: an anonymous request to the agent gets no rights",
    want: 'a Consul ACL token (a SecretID such as a UUID): letters, digits and . _ ~ + / = -',
    example: '00000000-0000-0000-0000-000000000000',
    secret: true,
    required: (raw) => (raw.DCS ?? 'consul') === 'consul' && (raw.CONSULACL ?? 'on') === 'on',
    requiredDoc: 'with DCS=consul, the default, unless CONSULACL=off',
    defaultDoc: 'none',
    check: consulToken,
    rules: [onlyWithAcl('CONSULTOKEN')],
  })
  CONSULAGENTTOKEN = param({
    doc: "the Consul agent's own token (acl.tokens.agent, the registration of its services, `consul leave`): node:write and agent:write on NODENAME, service:write on node-exporter, patroni-api, postgres-exporter; keeps Patroni's KV-write token out of the consul user's files",
    want: 'a Consul ACL token (a SecretID such as a UUID): letters, digits and . _ ~ + / = -',
    example: '00000000-0000-0000-0000-000000000000',
    secret: true,
    defaultDoc: 'CONSULTOKEN',
    check: consulToken,
    rules: [onlyWithAcl('CONSULAGENTTOKEN')],
  })
  CONSULACL = param({
    doc: "on: the Consul cluster enforces ACLs and the agent and Patroni use CONSULAGENTTOKEN and CONSULTOKEN; off says explicitly that it does not: anyone who reaches the agent on 127.0.0.1:8500 (under Nomad, every process of the host) may then write Patroni's keys, and every start logs so",
    want: 'on or off',
    example: 'on',
    defaultDoc: 'on',
    fallback: () => 'on',
    check: oneOf(['on', 'off']),
  })
  SECRETSFILE = param({
    doc: "a file in the jail with the secret parameters in dotenv syntax (NAME=value or NAME_B64=base64), e.g. the Nomad job's template /secrets/cook.env: cook reads it only when it is owned by root with mode 0600 or 0400",
    want: 'an absolute path',
    example: '/secrets/cook.env',
    defaultDoc: "none: secrets come from pot's /tmp/environment.sh or --env-file",
    check: plainAbsolutePath,
  })
  STANDBYHOST = param({
    doc: 'the remote primary (host or host:port) that a standby-leader member replicates from',
    want: `an IP address or host name, with an optional :port (default ${PORTS.postgres})`,
    example: '10.1.0.11:5432',
    required: (raw) => raw.SERVICETAG === 'standby-leader',
    requiredDoc: 'with SERVICETAG=standby-leader',
    defaultDoc: 'none',
    check: hostPort(PORTS.postgres),
    rules: [
      rule(['SERVICETAG'], (p): string | undefined =>
        p.SERVICETAG === 'master' && p.STANDBYHOST !== undefined
          ? 'is set, but SERVICETAG=master starts a cluster of its own; want STANDBYHOST only with SERVICETAG=standby-leader (or replica)'
          : undefined,
      ),
    ],
  })
  STOPTIMEOUT = param({
    doc: 'seconds `cook stop` waits for Patroni to hand over and exit when the jail stops',
    want: 'a whole number of seconds from 5 to 300',
    example: String(DEFAULT_STOP_TIMEOUT_S),
    defaultDoc: String(DEFAULT_STOP_TIMEOUT_S),
    fallback: () => DEFAULT_STOP_TIMEOUT_S,
    check: integer(5, 300),
  })
  BACKUPREPO = param({
    doc: 'the pgBackRest repository for WAL archive and backups: off, a directory shared by the members (e.g. a mounted dataset), or s3://bucket/prefix (with S3ENDPOINT, S3KEY, S3SECRET)',
    want: 'off, an absolute path, or s3://bucket or s3://bucket/prefix',
    example: 's3://pg-backups/postgresql',
    defaultDoc: 'off (no WAL archive, no backups: `cook check` says so)',
    fallback: (): Repo => ({ type: 'off' }),
    check: checkRepo,
  })
  S3ENDPOINT = param({
    doc: 'the S3-compatible endpoint (HTTPS) of BACKUPREPO=s3://...',
    want: 'a host name or IP address with an optional :port (443 when left out)',
    example: 's3.eu-central-1.amazonaws.com',
    required: (raw) => isS3(raw.BACKUPREPO),
    requiredDoc: 'with BACKUPREPO=s3://...',
    defaultDoc: 'none',
    check: checkEndpoint,
    rules: [onlyWithS3('S3ENDPOINT')],
  })
  S3REGION = param({
    doc: 'the S3 region of the bucket (S3-compatible servers usually accept any)',
    want: 'a region name: letters, digits and "-"',
    example: 'eu-central-1',
    defaultDoc: 'us-east-1',
    fallback: () => 'us-east-1',
    check: matching(/^[a-z0-9-]{1,64}$/, 'is not a region name'),
  })
  S3KEY = param({
    doc: 'the S3 access key id of BACKUPREPO=s3://...',
    want: 'visible ASCII characters, no blanks',
    example: 'AKIAIOSFODNN7EXAMPLE',
    secret: true,
    required: (raw) => isS3(raw.BACKUPREPO),
    requiredDoc: 'with BACKUPREPO=s3://...',
    defaultDoc: 'none',
    check: checkS3Credential,
    rules: [onlyWithS3('S3KEY')],
  })
  S3SECRET = param({
    doc: 'the S3 secret access key of BACKUPREPO=s3://...',
    want: 'visible ASCII characters, no blanks',
    example: SECRET_EXAMPLE,
    secret: true,
    required: (raw) => isS3(raw.BACKUPREPO),
    requiredDoc: 'with BACKUPREPO=s3://...',
    defaultDoc: 'none',
    check: checkS3Credential,
    rules: [onlyWithS3('S3SECRET')],
  })
  S3URISTYLE = param({
    doc: 'how the bucket is addressed: host (bucket.endpoint, AWS) or path (endpoint/bucket, most self-hosted servers)',
    want: 'host or path',
    example: 'host',
    defaultDoc: 'host',
    fallback: () => 'host',
    check: oneOf(['host', 'path']),
  })
  S3CAFILE = param({
    doc: "a CA bundle in the jail that signs the S3 endpoint's certificate, for a private CA",
    want: 'an absolute path',
    example: '/usr/local/etc/ssl/s3-ca.pem',
    defaultDoc: "the system's CA certificates",
    check: plainAbsolutePath,
    rules: [onlyWithS3('S3CAFILE')],
  })
  BACKUPCIPHER = param({
    doc: 'encryption of the pgBackRest repository: aes-256-cbc (with BACKUPCIPHERPASS) or off, which leaves every backup and archived WAL (pg_authid included) readable to whoever reads the repository and needs saying so',
    want: 'aes-256-cbc or off',
    example: 'aes-256-cbc',
    defaultDoc: 'aes-256-cbc',
    fallback: () => 'aes-256-cbc',
    check: oneOf(['aes-256-cbc', 'off']),
  })
  BACKUPCIPHERPASS = param({
    doc: "the passphrase the repository is encrypted with (pgBackRest's repo1-cipher-pass): the same on every member and on any cluster that restores from or follows this repository; lost, every backup in it is unreadable",
    want: `at least ${MIN_CIPHER_PASS} characters (e.g. \`openssl rand -base64 48\`), no line breaks or control characters, no blanks at either end, not an example from the documentation`,
    example: 'paste the output of openssl rand -base64 48',
    secret: true,
    required: (raw) => (raw.BACKUPREPO ?? 'off') !== 'off' && (raw.BACKUPCIPHER ?? 'aes-256-cbc') !== 'off',
    requiredDoc: 'with BACKUPREPO other than off, unless BACKUPCIPHER=off',
    defaultDoc: 'none',
    check: strongPassword(MIN_CIPHER_PASS, cipherPass),
    rules: [
      rule(['BACKUPCIPHERPASS', 'BACKUPREPO', 'BACKUPCIPHER'], (p): string | undefined =>
        p.BACKUPREPO.type === 'off'
          ? 'is set, but BACKUPREPO=off: there is no repository to encrypt; want BACKUPREPO too, or neither'
          : p.BACKUPCIPHER === 'off'
            ? 'is set, but BACKUPCIPHER=off; want BACKUPCIPHER=aes-256-cbc with the passphrase, or neither'
            : undefined,
      ),
    ],
  })
  BACKUPKEEP = param({
    doc: 'full backups to keep (older ones and the WAL they need are expired)',
    want: 'a whole number from 1 to 100',
    example: '2',
    defaultDoc: '2',
    fallback: () => 2,
    check: integer(1, 100),
  })
  BACKUPFULL = param({
    doc: "when the leader takes a full backup: a cron schedule in the jail's time zone",
    want: 'five cron fields (minute hour day-of-month month day-of-week) of numbers, ranges, lists, steps or *',
    example: '15 1 * * 0',
    defaultDoc: '15 1 * * 0 (Sundays 01:15)',
    fallback: () => '15 1 * * 0',
    check: (t) => checkCron(t, false),
  })
  BACKUPDIFF = param({
    doc: 'when the leader takes a differential backup (changes since the last full one), or off',
    want: 'off, or five cron fields of numbers, ranges, lists, steps or *',
    example: '15 1 * * 1-6',
    defaultDoc: '15 1 * * 1-6 (Monday to Saturday 01:15)',
    fallback: () => '15 1 * * 1-6',
    check: (t) => checkCron(t, true),
  })
  ARCHIVETIMEOUT = param({
    doc: 'seconds after which the leader archives a WAL segment even when it is not full: the bound on data lost with the whole cluster (RPO)',
    want: 'a whole number of seconds from 10 to 3600',
    example: '60',
    defaultDoc: '60',
    fallback: () => 60,
    check: integer(10, 3600),
  })
  RESTORETIME = param({
    doc: 'create this cluster from the repository as it was at this time (first start of the master member only; the others join as replicas)',
    want: 'YYYY-MM-DD HH:MM:SS[.ffffff] with a zone, e.g. 2026-11-30 23:10:05+00',
    example: '2026-11-30 23:10:05+00',
    defaultDoc: 'none: a new cluster starts empty (initdb)',
    check: checkPointInTime,
    rules: [
      rule(['RESTORETIME', 'BACKUPREPO', 'SERVICETAG'], (p): string | undefined =>
        // Replicas may carry it too (one parameter set for the whole group): they never bootstrap.
        p.BACKUPREPO.type === 'off'
          ? 'is set, but BACKUPREPO=off: there is no repository to restore from; want BACKUPREPO too'
          : p.SERVICETAG === 'standby-leader'
            ? 'is set with SERVICETAG=standby-leader, which follows STANDBYHOST instead; want one of the two'
            : undefined,
      ),
    ],
  })
  RESTORESTANZA = param({
    doc: 'the stanza (SCOPE of the old cluster) RESTORETIME restores from; the restored cluster archives into its own SCOPE',
    want: 'a DNS label in lower case',
    example: 'postgresql',
    defaultDoc: 'SCOPE',
    check: matching(LOWER_DNS_LABEL, 'is not a DNS label'),
    rules: [
      rule(['RESTORESTANZA'], (p): string | undefined =>
        p.RESTORETIME === undefined ? 'is set without RESTORETIME; want both, or neither' : undefined,
      ),
    ],
  })
  RESTPASS = param({
    doc: 'password of user "patroni" for the unsafe endpoints of the REST API (switchover, restart, reinitialize, config); patronictl on the member reads it from patroni.yml',
    want: `a password of at least ${MIN_KEKPASS} characters, not an example from the documentation`,
    example: SECRET_EXAMPLE,
    secret: true,
    defaultDoc: 'derived from KEKPASS and SCOPE (scrypt, then HKDF-SHA256)',
    fallback: derived('restapi'),
    check: strongPassword(MIN_KEKPASS, password('nothing', false)),
  })
  TLS = param({
    doc: 'on: PostgreSQL (hostssl only), the REST API (HTTPS) and the DCS links use TLS with TLSCA, TLSCERT, TLSKEY; off gives all of that up (plain text, no server verification) and needs saying so',
    want: 'on or off',
    example: 'on',
    defaultDoc: 'on',
    fallback: () => 'on',
    check: oneOf(['on', 'off']),
    rules: [
      // The certificates against each other and this member.
      rule(['TLS', 'TLSCA', 'TLSCERT', 'TLSKEY', 'MYIP', 'NODENAME'], (p): readonly Problem[] =>
        p.TLS === 'on'
          ? checkMaterial({ ca: p.TLSCA, cert: p.TLSCERT, key: p.TLSKEY }, { ip: p.MYIP, name: p.NODENAME })
          : [],
      ),
    ],
  })
  TLSCA = param({
    doc: 'CA certificate(s) that sign the members, etcd and the Consul servers: PEM, base64 of PEM (TLSCA_B64 too) or a path in the jail',
    want: 'PEM CA certificate(s), their base64, or an absolute path to a PEM file',
    example: '/mnt/tls/ca.crt',
    pem: true,
    required: tlsOn,
    requiredDoc: 'with TLS=on, the default',
    defaultDoc: 'none',
    check: pem('ca'),
    rules: [onlyWithTls('TLSCA')],
  })
  TLSCERT = param({
    doc: "this member's certificate (then any intermediates), signed by TLSCA, with MYIP in its subjectAltName: PEM, base64 (TLSCERT_B64 too) or a path in the jail",
    want: 'a PEM certificate chain, its base64, or an absolute path to a PEM file',
    example: '/mnt/tls/member.crt',
    pem: true,
    required: tlsOn,
    requiredDoc: 'with TLS=on, the default',
    defaultDoc: 'none',
    check: pem('cert'),
    rules: [onlyWithTls('TLSCERT')],
  })
  TLSKEY = param({
    doc: 'the private key of TLSCERT, unencrypted: PEM, base64 (TLSKEY_B64) or a path in the jail',
    want: 'a PEM private key, its base64, or an absolute path to a PEM file',
    example: '/mnt/tls/member.key',
    secret: true,
    pem: true,
    required: tlsOn,
    requiredDoc: 'with TLS=on, the default',
    defaultDoc: 'none',
    check: pem('key'),
    rules: [onlyWithTls('TLSKEY')],
  })
  CONSULAUTOENCRYPT = param({
    doc: 'on: the Consul agent asks the servers for its RPC certificate (auto_encrypt; the servers must allow it); off: it presents TLSCERT. Either way it verifies the servers against TLSCA',
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => 'off',
    check: oneOf(['on', 'off']),
  })
  DBNAME = param({
    doc: 'an application database created when the cluster is first created, owned by DBOWNER (who can then create tables in its public schema)',
    want: 'a lower-case SQL name: a-z, 0-9 and _, not starting with a digit, at most 63 characters; not postgres or template0/1',
    example: 'app',
    defaultDoc: 'none',
    check: databaseName,
  })
  DBOWNER = param({
    doc: 'owner of DBNAME; cook creates it (LOGIN without a password, granted to admin) when it is not admin; admin gives it a password (SET ROLE, then ALTER ROLE ... PASSWORD)',
    want: 'a lower-case SQL name: a-z, 0-9 and _, not starting with a digit; not postgres, replicator, rewinder, monitor or a pg_ role',
    example: 'admin',
    defaultDoc: 'admin',
    fallback: () => 'admin',
    check: ownerRole,
  })
  PGPARAMS = param({
    doc: "postgresql.conf parameters, checked against the installed server; those Patroni takes only from the DCS (max_connections, wal_level, ...) go to bootstrap.dcs, the others to this member's postgresql.parameters",
    want: "name=value items separated by spaces, a value with spaces in single quotes (name='a b'); no parameter Patroni or cook owns (port, listen_addresses, hot_standby, archive_command, ...)",
    example: 'work_mem=16MB max_connections=200',
    defaultDoc: 'none',
    fallback: (): Record<string, string> => ({}),
    check: pgParams,
  })
  MEMORY = param({
    doc: "the member's memory in MB, from which shared_buffers (25 %), effective_cache_size (75 %) and maintenance_work_mem (1/16) are derived; PGPARAMS overrides each",
    want: 'a whole number of MB from 256 to 16777216',
    example: '2048',
    aliases: ['NOMAD_MEMORY_LIMIT'],
    defaultDoc: "Nomad's NOMAD_MEMORY_LIMIT; without it PostgreSQL's own defaults",
    check: integer(256, 16777216),
  })
  NOFAILOVER = param({
    doc: 'never promote this member (Patroni tag nofailover): e.g. a backup or reporting member',
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
    rules: [
      rule(['NOFAILOVER', 'SERVICETAG'], (p): string | undefined =>
        p.NOFAILOVER && p.SERVICETAG !== 'replica'
          ? `is on, but SERVICETAG=${p.SERVICETAG} must be able to lead (Patroni never bootstraps a nofailover member); want NOFAILOVER only with SERVICETAG=replica`
          : undefined,
      ),
    ],
  })
  NOSYNC = param({
    doc: 'never choose this member as the synchronous standby (Patroni tag nosync)',
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
  })
  NOLOADBALANCE = param({
    doc: "keep this member out of the read pool: its /replica check answers 503, so HAProxy's :5001 drops it (Patroni tag noloadbalance)",
    want: 'on or off',
    example: 'off',
    defaultDoc: 'off',
    fallback: () => false,
    check: onOff,
  })
  REPLICATEFROM = param({
    doc: 'cascading replication: stream from this other member (its NODENAME) instead of the leader (Patroni tag replicatefrom)',
    want: 'the NODENAME of another member',
    example: 'pg2',
    defaultDoc: 'none: from the leader',
    check: matching(isDnsLabel, 'is not a member name'),
    rules: [
      rule(['REPLICATEFROM', 'NODENAME'], (p): string | undefined =>
        p.REPLICATEFROM === p.NODENAME
          ? 'names this member itself; want the NODENAME of another member'
          : undefined,
      ),
    ],
  })
  FAILSAFE = param({
    doc: "Patroni's failsafe_mode (bootstrap.dcs): a leader that loses the DCS keeps accepting writes while every other member answers its POST /failsafe; without it the leader demotes when the DCS is away",
    want: 'on or off',
    example: 'on',
    defaultDoc: 'on',
    fallback: () => true,
    check: onOff,
  })
  STANDBYSLOT = param({
    doc: 'the replication slot a standby-leader streams through on the remote primary (primary_slot_name); the primary cluster must keep it as a permanent slot (its SLOTS); ignored unless SERVICETAG=standby-leader',
    want: 'a slot name: a-z, 0-9 and _, at most 63 characters',
    example: 'standby_postgresql',
    defaultDoc: 'standby_<SCOPE> (- as _) with SERVICETAG=standby-leader',
    fallback: from(['SCOPE', 'SERVICETAG'], (p): string | undefined =>
      p.SERVICETAG === 'standby-leader' ? `standby_${p.SCOPE.replace(/-/g, '_')}` : undefined,
    ),
    check: matching(SLOT_NAME, 'is not a slot name'),
  })
  STANDBYSTANZA = param({
    doc: "the primary cluster's stanza (its SCOPE) in the same BACKUPREPO: a standby cluster fetches from its WAL archive (restore_command) what streaming from STANDBYHOST cannot serve, e.g. after a cut longer than the slot holds",
    want: 'a DNS label in lower case',
    example: 'postgresql',
    defaultDoc: 'none: the standby cluster only streams',
    check: matching(LOWER_DNS_LABEL, 'is not a DNS label'),
    rules: [
      rule(['STANDBYSTANZA', 'BACKUPREPO', 'SCOPE'], (p): string | undefined =>
        p.STANDBYHOST === undefined
          ? "is set without STANDBYHOST: only a standby cluster reads another cluster's archive; want STANDBYHOST too"
          : p.BACKUPREPO.type === 'off'
            ? "is set, but BACKUPREPO=off; want BACKUPREPO naming the primary cluster's repository"
            : p.STANDBYSTANZA === p.SCOPE
              ? "is this cluster's own SCOPE, which it archives into once promoted; want the primary cluster's SCOPE, a different one"
              : undefined,
      ),
    ],
  })
  SLOTS = param({
    doc: "permanent replication slots the cluster keeps on its leader for consumers outside it (Patroni's slots, bootstrap.dcs): a standby cluster's STANDBYSLOT, logical replication",
    want: 'items name (physical) or name:logical:database[:plugin] (pgoutput when left out), separated by commas or spaces',
    example: 'standby_dr',
    defaultDoc: 'none',
    fallback: (): Slot[] => [],
    check: slots,
    rules: [
      rule(['SLOTS', 'PGPARAMS'], (p): string | undefined =>
        p.SLOTS.some((s) => s.type === 'logical') && p.PGPARAMS.wal_level?.toLowerCase() !== 'logical'
          ? 'has a logical slot; want PGPARAMS with wal_level=logical as well'
          : undefined,
      ),
    ],
  })
}

export type ParamName = keyof ParamTable

/** Resolved, validated parameters: what the rest of the cook works from. Each type is its check's. */
export type Params = { [K in ParamName]: Resolved<ParamTable[K]> }

export type ServiceTag = Params['SERVICETAG']
export type SyncMode = Params['SYNCMODE']
export type Dcs = Params['DCS']
export type OnOff = Params['TLS']

export const PARAMS: Readonly<Record<ParamName, Spec>> = new ParamTable()

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

/** Whether every parameter in `needs` is valid and set: then `p` is what a rule or default of them sees. */
function ready(p: Partial<Params>, needs: readonly ParamName[], invalid: Set<string>): p is Known<ParamName> {
  return needs.every((n) => !invalid.has(n) && p[n] !== undefined)
}

/** Checks every parameter and the rules between them; throws one ParamError listing every problem. */
export function validate(input: RawParams, opts: CheckOptions = { allowLoopback: false }): Params {
  // Empty counts as missing everywhere, also where one parameter decides whether another is required.
  const raw: RawParams = {}
  for (const name of PARAM_NAMES) if (input[name] !== undefined && input[name] !== '') raw[name] = input[name]
  const problems: Problem[] = []
  const out: Partial<Params> = {}
  // Each check's value has its parameter's type: the table defines Params so.
  const values: Record<string, unknown> = out
  for (const name of PARAM_NAMES) {
    const text = raw[name]
    if (text === undefined) {
      if (isRequired(name, raw))
        problems.push({ name, message: `is missing or empty; want ${PARAMS[name].want}` })
      continue
    }
    const result = PARAMS[name].check(text, opts)
    if ('why' in result) problems.push({ name, message: describe(name, result.why, text) })
    else values[name] = result.value
  }
  // Defaults are computed only from valid values; a rule between parameters runs when all of its
  // inputs are valid, so one run reports as much as can be known.
  const invalid = new Set(problems.map((p) => p.name))
  // Plain defaults first, then those computed from other values (REPPASS needs SCOPE's default).
  const ruleNeeds = new Set(PARAM_NAMES.flatMap((n) => (PARAMS[n].rules ?? []).flatMap((r) => r.needs)))
  const computed = (name: ParamName) => Number((PARAMS[name].fallback?.needs?.length ?? 0) > 0)
  for (const name of [...PARAM_NAMES].sort((a, b) => computed(a) - computed(b))) {
    const fallback = PARAMS[name].fallback
    if (out[name] !== undefined || !fallback || invalid.has(name)) continue
    if (fallback.costly && problems.length > 0 && !ruleNeeds.has(name)) continue
    if (ready(out, fallback.needs ?? [], invalid)) values[name] = fallback(out)
  }
  for (const name of PARAM_NAMES)
    for (const { needs, broken } of PARAMS[name].rules ?? [])
      if (ready(out, needs, invalid)) {
        const found = broken(out)
        if (typeof found === 'string') problems.push({ name, message: found })
        else if (found) problems.push(...found)
      }
  if (problems.length > 0) throw new ParamError(problems)
  // Every required parameter is set (or there was a problem), every default computed.
  return out as Params
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
