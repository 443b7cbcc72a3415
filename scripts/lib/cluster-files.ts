// A development cluster's files: N members rendered by the cook's own plan/apply (the jail's templates,
// rebased under a folder), the client's pgpass and HAProxy's configuration from `cook haproxy`'s template.
// Nothing runs here: cluster-procs.ts starts and stops the processes, cluster.ts observes them.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { apply } from '../../cook/apply.js'
import { haproxyConfig } from '../../cook/haproxy.js'
import { PATHS, type Layout } from '../../cook/layout.js'
import { type Params, type RawParams, validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { readPriorVerifiers } from '../../cook/prior.js'
import { PORTS } from '../../cook/ports.js'
import { digestKey, wantedMarker, writeMarker } from '../../cook/seasoned.js'
import { verifyPlan } from '../../cook/verify.js'
import { makeRepoDir } from './backup.js'
import type { Ca } from './certs.js'
import { ClusterTls } from './cluster-tls.js'
import { debianLayout, writePgpass } from './pg.js'
import { asUser, type Proc, type Supervised } from './procs.js'

export const PG_PORT = PORTS.postgres
export const REST_PORT = PORTS.patroniRest
export const PRIMARY_PORT = PORTS.haproxyPrimary
export const REPLICA_PORT = PORTS.haproxyReplicas
/** Where a member's own etcd gateway listens, on the member's address (etcd's default gateway port). */
export const GATEWAY_PORT = 23790
/** Debian's postgres_exporter (package prometheus-postgres-exporter); FreeBSD's is /usr/local/bin/postgres_exporter. */
export const PG_EXPORTER_BIN = '/usr/bin/prometheus-postgres-exporter'
/** Debian's node_exporter (package prometheus-node-exporter). */
export const NODE_EXPORTER_BIN = '/usr/bin/prometheus-node-exporter'
/** daemon(8) -R of the jail's rc.d script (patroni_restart_delay). */
export const PATRONI_RESTART_DELAY_MS = 2000

export interface ClusterOptions {
  /** Patroni scope: each test gets its own, so no key of another cluster can be in its way. */
  scope: string
  /** This cluster's folder: member roots, etcd data, logs, the client's pgpass. */
  dir: string
  /** First three octets of the cluster's own loopback block: members at .11, .12, ..., etcd at .10. */
  net: string
  size?: number
  /** Where HAProxy listens (:5000 primary, :5001 replicas); the block's .10 when left out. */
  haproxyBind?: string
  /**
   * Parameters on top of the development ones (TTL, LOOPWAIT, RETRYTIMEOUT, SYNCMODE, passwords, ...).
   * TLS=off runs the cluster without certificates (plain text everywhere, etcd included); otherwise the
   * cluster makes a throwaway CA and certificates at start.
   */
  params?: RawParams
  /** Parameters of single members, by position (member tags, SERVICETAG=standby-leader, ...). */
  memberParams?: RawParams[]
  /**
   * 'gateway': the jail's shape. Each member reaches the DCS only through a process of its own, as a jail's
   * Patroni reaches Consul through the in-jail agent: an `etcd gateway` on the member's address (ETCDPROXY),
   * which dies with the member's other processes when the jail stops. Left out: Patroni talks to etcd.
   */
  agent?: 'gateway'
  /** A pgBackRest repository (repoDir) for the cluster: archiving, backups, replicas from it. Default on. */
  backups?: boolean
  /**
   * The CA to issue this cluster's certificates from, instead of a new one: another cluster's (`tls.ca`), so
   * that a standby cluster and its primary cluster verify each other, as two clusters of one PKI would.
   */
  ca?: Ca
  /** Start postgres_exporter and node_exporter with each member, as the jail's rc.d would. */
  exporters?: boolean
}

export interface Member {
  name: string
  ip: string
  /** The member's "/", as cook render --root would use it. */
  root: string
  dataDir: string
  config: string
  restUrl: string
  params: Params
  /** The parameters as given, before validation: what a reseason changes. */
  raw: RawParams
  /** Patroni under supervision (daemon(8) -R in the jail). */
  proc?: Supervised | undefined
  /** The member's own etcd gateway, with `agent: 'gateway'`. */
  gateway?: Proc | undefined
  /** The member's postgres_exporter and node_exporter, with `exporters`. */
  exporter?: Proc | undefined
  nodeExporter?: Proc | undefined
  /** False after kill() or stop(): its Patroni is meant to be down. */
  up: boolean
}

/** The passwords a client needs, by role name. */
export interface Passwords {
  postgres: string
  admin: string
  replicator: string
  rewinder: string
}

const randomPassword = () => randomBytes(18).toString('base64url')

/**
 * The fast timing profile of the dev cluster, the tests and the benchmarks: ttl/loop_wait/retry_timeout
 * 10/2/4, failovers in seconds instead of half a minute. The jail's defaults are the schema's (30/10/10).
 */
export const FAST: RawParams = { TTL: '10', LOOPWAIT: '2', RETRYTIMEOUT: '4' }

/** A cluster's members rendered on disk, with the passwords and addresses its clients need. */
export class ClusterFiles {
  readonly members: Member[]
  /** The roles' passwords; a reseason that rotates them updates these and the pgpass file. */
  passwords: Passwords
  /** A 0600 pgpass file with every role's password, for psql and the tests. */
  readonly pgpass: string
  readonly haproxyHost: string
  readonly logDir: string
  /** The default repository (BACKUPREPO, unless the parameters name another). */
  readonly repoDir: string
  /** The repository's passphrase (BACKUPCIPHERPASS): another cluster that reads the repository needs it. */
  readonly cipherPass: string
  /** The throwaway CA and certificates; undefined with TLS=off. */
  readonly tls: ClusterTls | undefined
  protected readonly etcdHost: string
  protected readonly haproxyCfg: string

  /** Renders every member (nothing starts); throws the cook's own errors for bad parameters. */
  constructor(readonly opts: ClusterOptions) {
    const size = opts.size ?? 3
    this.etcdHost = `${opts.net}.10`
    this.haproxyHost = opts.haproxyBind ?? this.etcdHost
    mkdirSync(opts.dir, { recursive: true })
    // The postgres user must be able to reach its member roots.
    chmodSync(opts.dir, 0o755)
    this.logDir = join(opts.dir, 'logs')
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 })
    // The cluster's pgBackRest repository: a directory all members share, as a mounted dataset would be.
    this.repoDir = join(opts.dir, 'repo')
    this.cipherPass = opts.params?.BACKUPCIPHERPASS ?? randomBytes(36).toString('base64')
    this.tls =
      opts.params?.TLS === 'off'
        ? undefined
        : new ClusterTls(opts.dir, {
            etcdHost: this.etcdHost,
            haproxyHost: this.haproxyHost,
            memberIps: Array.from({ length: size }, (_, i) => `${opts.net}.${11 + i}`),
            ...(opts.ca ? { ca: opts.ca } : {}),
          })
    const shared: RawParams = {
      BACKUPREPO: opts.backups === false ? 'off' : this.repoDir,
      // The repository is encrypted, as in a jail; a cluster that reads another's passes its BACKUPCIPHERPASS.
      ...((opts.params?.BACKUPREPO ?? (opts.backups === false ? 'off' : '')) !== 'off' &&
      opts.params?.BACKUPCIPHER !== 'off'
        ? { BACKUPCIPHERPASS: this.cipherPass }
        : {}),
      DCS: 'etcd',
      ETCDHOSTS: `${this.etcdHost}:${PORTS.etcdClient}`,
      SCOPE: opts.scope,
      // Loopback connections come from 127.0.0.1 whatever member address they go to (Linux picks the
      // loopback route's source), so members, HAProxy and the harness all connect from 127.0.0.1.
      ALLOWNETS: '127.0.0.1/32',
      MEMBERNETS: '127.0.0.1/32',
      KEKPASS: randomPassword(),
      ADMPASS: randomPassword(),
      ...opts.params,
    }
    this.members = Array.from({ length: size }, (_, i) => {
      const name = `pg${i + 1}`
      const ip = `${opts.net}.${11 + i}`
      const root = join(opts.dir, name)
      // With a gateway there is no ETCDHOSTS: the gateway is provably the member's only way to etcd.
      const dcs: RawParams =
        opts.agent === 'gateway' ? { ETCDHOSTS: undefined, ETCDPROXY: `http://${ip}:${GATEWAY_PORT}` } : {}
      const certs = this.tls?.memberParams(name, ip) ?? {}
      const raw: RawParams = {
        ...shared,
        ...dcs,
        ...certs,
        NODENAME: name,
        MYIP: ip,
        SERVICETAG: i === 0 ? 'master' : 'replica',
        ...opts.memberParams?.[i],
      }
      const params = validate(raw, { allowLoopback: true })
      return {
        name,
        ip,
        root,
        dataDir: join(root, PATHS.dataDir),
        config: join(root, PATHS.patroniYml),
        restUrl: `${this.tls ? 'https' : 'http'}://${ip}:${REST_PORT}`,
        params,
        raw,
        up: false,
      }
    })
    const first = this.members[0]?.params
    if (!first) throw new Error('a cluster needs at least one member')
    this.passwords = {
      postgres: first.KEKPASS,
      admin: first.ADMPASS,
      replicator: first.REPPASS,
      rewinder: first.REWINDPASS,
    }
    if (first.BACKUPREPO.type === 'posix') makeRepoDir(first.BACKUPREPO.path)
    for (const m of this.members) this.render(m)
    this.pgpass = join(opts.dir, 'pgpass')
    writePgpass(this.pgpass, { ...this.passwords })
    this.haproxyCfg = join(opts.dir, 'haproxy.cfg')
    writeFileSync(
      this.haproxyCfg,
      haproxyConfig({
        members: this.members.map((m) => ({
          name: m.name,
          host: m.ip,
          restPort: REST_PORT,
          pgPort: PG_PORT,
          // Each member's certificate names it (cluster-tls.ts): the HTTPS checks verify that name.
          verifyName: m.name,
        })),
        bind: [this.haproxyHost],
        primaryPort: PRIMARY_PORT,
        replicaPort: REPLICA_PORT,
        caFile: this.tls?.ca.cert ?? null,
      }),
    )
    execFileSync('haproxy', ['-c', '-q', '-f', this.haproxyCfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  }

  /** The jail's paths rebased under the member's root, with Debian's users. */
  layout(m: Member): Layout {
    return debianLayout(m.root)
  }

  /** The jail's files under the member's root, written by the cook's own plan and apply. */
  protected render(m: Member): void {
    const layout = this.layout(m)
    const socket = join(m.root, PATHS.pgSocketDir, `.s.PGSQL.${PG_PORT}`)
    if (socket.length > 107)
      throw new Error(`${socket} is longer than a Unix socket path may be: use a shorter cluster folder`)
    const p = plan(m.params, layout, readPriorVerifiers(m.root))
    verifyPlan(p)
    apply(p, { root: m.root, owners: 'apply' })
    // The marker a finished jail start leaves (its digests are of the jail's own plan), for `cook status`.
    const key = digestKey(join(m.root, PATHS.digestKey))
    writeMarker(join(m.root, PATHS.seasoned), {
      ...wantedMarker(key, m.params, plan(m.params)),
      seasonedAt: new Date().toISOString(),
    })
    try {
      const [cmd = '', ...args] = asUser('postgres', ['/usr/bin/test', '-w', join(m.root, PATHS.dataDir)])
      execFileSync(cmd, args, { stdio: 'ignore' })
    } catch {
      throw new Error(
        `the postgres user cannot write ${join(m.root, PATHS.dataDir)}: a parent folder of ${this.opts.dir} is ` +
          'not searchable by other users; put the cluster in a folder it can reach (e.g. under /var/tmp)',
      )
    }
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name)
    if (!m) throw new Error(`no member ${name}`)
    return m
  }
}
