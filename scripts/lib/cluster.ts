// A development cluster on loopback: N members rendered by the cook's own plan/apply (the jail's
// templates, rebased under a folder), one etcd, and HAProxy from `cook haproxy`'s template. Used by
// `npm run cluster`, the end-to-end tests and the benchmarks; it stops every process it started, by PID.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { apply } from '../../cook/apply.js'
import { haproxyConfig } from '../../cook/haproxy.js'
import { PATHS, type Layout } from '../../cook/layout.js'
import { StepLog } from '../../cook/log.js'
import { type Params, type RawParams, validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { sh } from '../../cook/quote.js'
import { renderedSuperuserPassword, rotateRoles, type RotateResult } from '../../cook/rotate.js'
import { digestKey, wantedMarker, writeMarker } from '../../cook/seasoned.js'
import { verifyPlan } from '../../cook/verify.js'
import { httpCall, type HttpResponse } from '../../cook/https.js'
import { ClusterTls } from './cluster-tls.js'
import type { Ca } from './certs.js'
import { type Etcd, getKey, type KeyValue, startEtcd } from './etcd.js'
import { type ClusterView, clusterView, isLeader, isReplica } from './patroni.js'
import { type Conn, debianLayout, query, type QueryOptions, writePgpass } from './pg.js'
import { makeRepoDir } from './backup.js'
import {
  asUser,
  descendants,
  exited,
  isAlive,
  type Proc,
  Procs,
  signalAll,
  type Supervised,
  waitGone,
} from './procs.js'
import { GiveUp, waitFor } from './wait.js'
import { PORTS } from '../../cook/ports.js'

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

export class Cluster {
  readonly procs = new Procs()
  readonly members: Member[]
  /** The roles' passwords; a reseason that rotates them updates these and the pgpass file. */
  passwords: Passwords
  /** A 0600 pgpass file with every role's password, for psql and the tests. */
  readonly pgpass: string
  readonly haproxyHost: string
  readonly logDir: string
  etcd: Etcd | undefined
  haproxy: Proc | undefined
  /** The default repository (BACKUPREPO, unless the parameters name another). */
  readonly repoDir: string
  /** The throwaway CA and certificates; undefined with TLS=off. */
  readonly tls: ClusterTls | undefined
  private readonly etcdHost: string
  private readonly haproxyCfg: string

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
      DCS: 'etcd',
      ETCDHOSTS: `${this.etcdHost}:${PORTS.etcdClient}`,
      SCOPE: opts.scope,
      // Loopback connections come from 127.0.0.1 whatever member address they go to.
      ALLOWNETS: '127.0.0.0/8',
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
        })),
        bind: this.haproxyHost,
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
  private render(m: Member): void {
    const layout = this.layout(m)
    const socket = join(m.root, PATHS.pgSocketDir, `.s.PGSQL.${PG_PORT}`)
    if (socket.length > 107)
      throw new Error(`${socket} is longer than a Unix socket path may be: use a shorter cluster folder`)
    const p = plan(m.params, layout)
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

  /**
   * Reseasons a member with changed parameters the way its jail's cook does: the leader's roles get the
   * member's passwords first (cook/rotate.ts, the lifecycle's own step, with the superuser password of the
   * member's patroni.yml as the previous one), then the files are rendered again and Patroni reloads
   * (SIGHUP, what `service patroni reload` sends). With 'restart' the member stops first and starts last,
   * as a jail restarted with new `pot set-env` values or a Nomad task restarted with new Variables does.
   */
  async reseason(
    m: Member,
    changes: RawParams,
    how: 'reload' | 'restart' = 'reload',
    log: StepLog = new StepLog({ out: () => undefined }),
  ): Promise<RotateResult> {
    const raw = { ...m.raw, ...changes }
    const params = validate(raw, { allowLoopback: true })
    const previous = renderedSuperuserPassword(m.config)
    if (how === 'restart') await this.stop(m)
    const result = await rotateRoles(params, {
      log,
      consulHttp: '',
      layout: this.layout(m),
      previous: [params.OLDKEKPASS, previous],
      timeoutMs: 60000,
      intervalMs: 250,
    })
    m.raw = raw
    m.params = params
    this.render(m)
    // The roles have this member's passwords now: the tests' own connections need them too.
    if (result.kind === 'checked') {
      this.passwords = {
        postgres: params.KEKPASS,
        admin: params.ADMPASS,
        replicator: params.REPPASS,
        rewinder: params.REWINDPASS,
      }
      writePgpass(this.pgpass, { ...this.passwords })
    }
    if (how === 'restart') this.startMember(m)
    else if (m.proc && !m.proc.done) signalAll([m.proc.pid], 'SIGHUP')
    return result
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name)
    if (!m) throw new Error(`no member ${name}`)
    return m
  }

  /** etcd, the first member, then (once the cluster exists in the DCS) the others, then HAProxy. */
  async start(): Promise<void> {
    await this.startEtcd()
    const [first, ...rest] = this.members
    if (first) this.startMember(first)
    // As in the jails: a replica only joins a cluster that exists, it never initialises one.
    await waitFor(
      'the first member to claim the cluster in etcd',
      () => (this.checkProcesses(), this.initialized()),
      {
        timeout: 30000,
        last: () => this.logHint(first),
      },
    )
    for (const m of rest) this.startMember(m)
    this.startHaproxy()
  }

  /** Starts the cluster's etcd, or starts it again on its data after stopEtcd(). */
  async startEtcd(): Promise<void> {
    if (this.etcd && !this.etcd.proc.done) throw new Error('etcd is already running')
    this.etcd = await startEtcd(this.procs, {
      host: this.etcdHost,
      dir: join(this.opts.dir, 'etcd'),
      name: this.opts.scope,
      tls: this.tls?.etcd,
    })
  }

  /** The DCS goes away entirely: etcd stops (SIGTERM) and stays down until startEtcd(). */
  async stopEtcd(): Promise<void> {
    const etcd = this.etcd
    this.etcd = undefined
    if (!etcd || etcd.proc.done) return
    signalAll([etcd.proc.pid], 'SIGTERM')
    // Polls (a timer keeps the event loop alive, which awaiting the unref'd child's exit would not).
    if (!(await waitGone([etcd.proc.pid], 10000))) throw new Error('etcd did not exit within 10 s of SIGTERM')
  }

  /**
   * Freezes (SIGSTOP) or thaws (SIGCONT) a member's Patroni: its REST API stops answering while its
   * PostgreSQL keeps running, as when the member is cut off from its peers.
   */
  freeze(m: Member, frozen: boolean): void {
    if (!m.proc || m.proc.done) throw new Error(`${m.name} is not running`)
    signalAll([m.proc.pid], frozen ? 'SIGSTOP' : 'SIGCONT')
  }

  private async initialized(): Promise<boolean> {
    if (!this.etcd) return false
    return (await getKey(this.etcd, `/service/${this.opts.scope}/initialize`)) !== undefined
  }

  startHaproxy(): Proc {
    this.haproxy = this.procs.start('haproxy', ['haproxy', '-db', '-f', this.haproxyCfg], {
      log: join(this.logDir, 'haproxy.log'),
    })
    return this.haproxy
  }

  /**
   * Starts the member's Patroni as postgres (setpriv execs, so the PID held is Patroni's), after the
   * member's gateway when it has one: Patroni retries the DCS until the gateway listens.
   */
  startMember(m: Member): Proc {
    if (m.proc && !m.proc.done) throw new Error(`${m.name} is already running`)
    if (this.opts.agent === 'gateway' && (!m.gateway || m.gateway.done)) m.gateway = this.startGateway(m)
    // Supervised as the jail's rc.d script runs it: a Patroni that dies is back in seconds and resumes or
    // demotes the PostgreSQL it finds, instead of leaving it running as a primary nobody manages.
    m.proc = this.procs.supervise(
      m.name,
      ['patroni', m.config],
      { user: 'postgres', log: join(this.logDir, `${m.name}.log`) },
      PATRONI_RESTART_DELAY_MS,
    )
    if (this.opts.exporters && (!m.exporter || m.exporter.done)) m.exporter = this.startExporter(m)
    if (this.opts.exporters && (!m.nodeExporter || m.nodeExporter.done)) {
      const rc = plan(m.params, this.layout(m)).rcConf
      // The flags the port's rc script builds from node_exporter_listen_address and node_exporter_textfile_dir.
      m.nodeExporter = this.procs.start(
        `${m.name}-node-exporter`,
        [
          NODE_EXPORTER_BIN,
          `--web.listen-address=${rc.node_exporter_listen_address ?? ''}`,
          `--collector.textfile.directory=${rc.node_exporter_textfile_dir ?? ''}`,
        ],
        { user: 'prometheus', log: join(this.logDir, `${m.name}-node-exporter.log`) },
      )
    }
    m.up = true
    return m.proc
  }

  /**
   * postgres_exporter as the jail's rc.d starts it: the environment file the cook rendered is sourced (what
   * rc.subr does with postgres_exporter_env_file), the exporter runs as its own user and reads the monitor
   * role's password from the file named there. argv holds no secret.
   */
  private startExporter(m: Member): Proc {
    const rc = plan(m.params, this.layout(m)).rcConf
    const envFile = rc.postgres_exporter_env_file ?? ''
    const script = `set -a; . ${sh(envFile)}; set +a; exec ${sh(PG_EXPORTER_BIN)} --web.listen-address=${sh(rc.postgres_exporter_listen_address ?? '')}`
    return this.procs.start(`${m.name}-exporter`, ['/bin/sh', '-c', script], {
      user: rc.postgres_exporter_user ?? 'prometheus',
      log: join(this.logDir, `${m.name}-exporter.log`),
    })
  }

  /** etcd's L4 gateway: it forwards TCP to etcd, like the jail's Consul agent forwards Patroni's calls. */
  private startGateway(m: Member): Proc {
    if (!this.etcd) throw new Error('etcd is not running')
    return this.procs.start(
      `${m.name}-gateway`,
      [
        'etcd',
        'gateway',
        'start',
        `--endpoints=${this.etcd.endpoint}`,
        `--listen-addr=${m.ip}:${GATEWAY_PORT}`,
      ],
      { log: join(this.logDir, `${m.name}-gateway.log`) },
    )
  }

  /** The postmaster's PID from postmaster.pid, when that process is still the postmaster of this member. */
  postmasterPid(m: Member): number | undefined {
    let pid: number
    try {
      pid = Number(readFileSync(join(m.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    } catch {
      return undefined
    }
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      return cmdline.includes(m.dataDir) ? pid : undefined
    } catch {
      return undefined
    }
  }

  /** Every PID of the member: Patroni and what it runs, the postmaster and its backends, its gateway. */
  memberPids(m: Member): number[] {
    const pids: number[] = []
    if (m.proc && !m.proc.done) pids.push(m.proc.pid, ...descendants(m.proc.pid))
    if (m.gateway && !m.gateway.done) pids.push(m.gateway.pid)
    for (const p of [m.exporter, m.nodeExporter]) if (p && !p.done) pids.push(p.pid)
    const pm = this.postmasterPid(m)
    if (pm !== undefined) pids.push(pm, ...descendants(pm))
    return [...new Set(pids)]
  }

  /** Node loss: SIGKILL to Patroni, the postmaster, all their children and the gateway at once. */
  async kill(m: Member): Promise<void> {
    m.up = false
    m.proc?.unsupervise() // the jail, supervisor included, is gone
    const pids = this.memberPids(m)
    signalAll(pids, 'SIGKILL')
    if (!(await waitGone(pids, 10000))) throw new Error(`${m.name}: processes survived SIGKILL`)
    await exited([m.proc, m.gateway, m.exporter, m.nodeExporter])
  }

  /** A planned stop: SIGTERM to Patroni, which stops PostgreSQL and releases the leader key. */
  async stop(m: Member, timeout = 60000): Promise<void> {
    m.up = false
    const proc = m.proc
    if (!proc || proc.done) return
    proc.unsupervise() // what `service patroni stop` does: SIGTERM to the supervisor, no restart
    signalAll([proc.pid], 'SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise((resolve) => (timer = setTimeout(resolve, timeout, 'timeout')))
    const result = await Promise.race([proc.exited, expired])
    clearTimeout(timer)
    if (result === 'timeout')
      throw new Error(`${m.name}: Patroni did not exit within ${timeout / 1000} s of SIGTERM`)
  }

  /** A Patroni crash (SIGKILL to Patroni alone): its supervisor starts it again. Returns the killed PID. */
  crashPatroni(m: Member): number {
    const pid = m.proc?.pid
    if (pid === undefined || m.proc?.done) throw new Error(`${m.name}: Patroni is not running`)
    signalAll([pid], 'SIGKILL')
    return pid
  }

  /** Throws GiveUp when a process that should run has exited: waiting for it cannot succeed. */
  checkProcesses(): void {
    const dead: string[] = []
    for (const m of this.members) {
      if (m.up && m.proc?.done) dead.push(`${m.name} (${this.logHint(m)})`)
      if (m.up && m.gateway?.done)
        dead.push(`${m.name}'s etcd gateway (see ${join(this.logDir, `${m.name}-gateway.log`)})`)
    }
    if (this.haproxy?.done) dead.push(`haproxy (see ${join(this.logDir, 'haproxy.log')})`)
    if (this.etcd?.proc.done) dead.push(`etcd (see ${join(this.opts.dir, 'etcd', 'etcd.log')})`)
    if (dead.length > 0) throw new GiveUp(`exited unexpectedly: ${dead.join(', ')}`)
  }

  /** The cluster as Patroni sees it, from the first member whose REST API answers. */
  async view(): Promise<ClusterView> {
    let last: unknown
    for (const m of this.members) {
      if (!m.proc || m.proc.done) continue
      try {
        return await clusterView(m.restUrl, this.tls?.client)
      } catch (e) {
        last = e
      }
    }
    throw new Error(`no member's REST API answers${last ? ` (${(last as Error).message})` : ''}`)
  }

  /** Waits for one running leader and every other started member replicating; streaming proven by a query. */
  async waitFormed(timeout = 90000): Promise<{ leader: Member; replicas: Member[] }> {
    let last = ''
    return waitFor(
      'one leader and streaming replicas',
      async () => {
        this.checkProcesses()
        const view = await this.view()
        last = JSON.stringify(view.members.map((m) => [m.name, m.role, m.state]))
        const running = this.members.filter((m) => m.up)
        const leaders = view.members.filter(isLeader)
        const replicas = view.members.filter(isReplica)
        if (leaders.length !== 1 || replicas.length !== running.length - 1) return undefined
        const leader = this.member(leaders[0]?.name ?? '')
        const streaming = await this.streamingTo(leader)
        if (!replicas.every((r) => streaming.includes(r.name))) return undefined
        return { leader, replicas: replicas.map((r) => this.member(r.name)) }
      },
      { timeout, interval: 250, last: () => last },
    )
  }

  /** Names of the members that stream from `leader`, by pg_stat_replication on the leader itself. */
  async streamingTo(leader: Member): Promise<string[]> {
    const rows = await this.query(
      this.memberConn(leader),
      "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
    )
    return rows.map((r) => r[0] ?? '')
  }

  /** The leader's name from /cluster, or undefined when there is none right now. */
  async leaderName(): Promise<string | undefined> {
    try {
      return (await this.view()).members.find(isLeader)?.name
    } catch {
      return undefined
    }
  }

  /** Waits until a member other than `except` leads and accepts a write (a real INSERT-less write check). */
  async waitNewLeader(except: Member | undefined, timeout = 90000): Promise<Member> {
    return waitFor(
      `a leader other than ${except?.name ?? '(none)'} that accepts writes`,
      async () => {
        this.checkProcesses()
        const name = await this.leaderName()
        if (name === undefined || name === except?.name) return undefined
        const m = this.member(name)
        const rows = await this.query(this.memberConn(m), 'SELECT pg_is_in_recovery()')
        return rows[0]?.[0] === 'f' ? m : undefined
      },
      { timeout, interval: 100 },
    )
  }

  /** Waits until :5000 routes to `leader`: the server address seen through HAProxy is the leader's. */
  async waitPrimaryRoute(leader: Member, timeout = 30000): Promise<void> {
    await waitFor(
      `HAProxy :${PRIMARY_PORT} to route to ${leader.name}`,
      async () => {
        this.checkProcesses()
        const rows = await this.query(
          this.primaryConn(),
          'SELECT host(inet_server_addr()), pg_is_in_recovery()',
        )
        return rows[0]?.[0] === leader.ip && rows[0]?.[1] === 'f'
      },
      { timeout, interval: 100 },
    )
  }

  /** Waits until HAProxy's :5001 answers from a standby (its checks mark replicas up a moment after they stream). */
  async waitReplicaRoute(timeout = 30000): Promise<void> {
    await waitFor(
      `HAProxy :${REPLICA_PORT} to route to a replica`,
      async () => {
        this.checkProcesses()
        const rows = await this.query(this.replicaConn(), 'SELECT pg_is_in_recovery()')
        return rows[0]?.[0] === 't'
      },
      { timeout, interval: 100 },
    )
  }

  /** Patroni's leader key in etcd: who holds it, and under which lease. */
  async leaderKey(): Promise<KeyValue | undefined> {
    if (!this.etcd) throw new Error('etcd is not running')
    return getKey(this.etcd, `/service/${this.opts.scope}/leader`)
  }

  /** Waits until `leader` has a confirmed synchronous standby: Patroni's /sync key and PostgreSQL agree. */
  async waitSyncStandby(leader: Member, timeout = 60000): Promise<Member> {
    return waitFor(
      `a confirmed synchronous standby of ${leader.name}`,
      async () => {
        this.checkProcesses()
        const sync = (await this.view()).members.find((m) => m.role === 'sync_standby' && isReplica(m))
        if (!sync) return undefined
        const rows = await this.query(
          this.memberConn(leader),
          "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'",
        )
        return rows.some((r) => r[0] === sync.name) ? this.member(sync.name) : undefined
      },
      { timeout, interval: 200 },
    )
  }

  /** Patroni's own log of the member (log.dir of its patroni.yml). */
  patroniLog(m: Member): string {
    try {
      return readFileSync(join(m.root, PATHS.patroniLogDir, 'patroni.log'), 'utf8')
    } catch {
      return ''
    }
  }

  memberConn(m: Member, user = 'postgres'): Conn {
    return { host: m.ip, port: PG_PORT, user }
  }

  primaryConn(user = 'postgres'): Conn {
    return { host: this.haproxyHost, port: PRIMARY_PORT, user }
  }

  replicaConn(user = 'postgres'): Conn {
    return { host: this.haproxyHost, port: REPLICA_PORT, user }
  }

  /** SQL as a client that verifies the server (verify-full against the cluster's CA) unless `ssl` says otherwise. */
  query(conn: Conn, sql: string, ssl: QueryOptions['ssl'] = this.clientSsl()): Promise<string[][]> {
    return query(conn, sql, { pgpass: this.pgpass, ssl })
  }

  /** What a careful client sets: TLS with the server verified, or nothing with TLS=off. */
  clientSsl(): QueryOptions['ssl'] {
    return this.tls ? { mode: 'verify-full', rootcert: this.tls.ca.cert } : undefined
  }

  /**
   * A call to a member's REST API, as an operator's curl would make it: with the credentials of the
   * `patroni` user (RESTPASS) when `auth` is true, without any when false.
   */
  rest(m: Member, method: string, path: string, body?: object, auth = true): Promise<HttpResponse> {
    const basic = Buffer.from(`patroni:${m.params.RESTPASS}`).toString('base64')
    return httpCall(`${m.restUrl}${path}`, {
      method,
      ...(body ? { body: JSON.stringify(body) } : {}),
      headers: auth ? { authorization: `Basic ${basic}` } : {},
      tls: this.tls?.client,
      timeoutMs: 30000,
    })
  }

  /** Where to look when a member does not come up. */
  logHint(m: Member | undefined): string {
    if (!m) return ''
    const log = join(m.root, PATHS.patroniLogDir, 'patroni.log')
    return `see ${join(this.logDir, `${m.name}.log`)}${existsSync(log) ? ` and ${log}` : ''}`
  }

  /**
   * Stops everything this cluster started, by PID. Patroni first with SIGKILL (so it restarts nothing),
   * then an immediate shutdown of each postmaster (SIGQUIT: it stops its children and frees its shared
   * memory), then HAProxy and etcd; whatever is still alive after a grace period gets SIGKILL.
   */
  async destroy(): Promise<void> {
    const memberPids = this.members.map((m) => ({ m, pids: this.memberPids(m), pm: this.postmasterPid(m) }))
    for (const m of this.members) m.proc?.unsupervise()
    for (const { m } of memberPids) if (m.proc && !m.proc.done) signalAll([m.proc.pid], 'SIGKILL')
    for (const { pm } of memberPids) if (pm !== undefined) signalAll([pm], 'SIGQUIT')
    const gateways = new Set(this.members.flatMap((m) => [m.gateway, m.exporter, m.nodeExporter]))
    const others = this.procs.all.filter(
      (p) => !p.done && (p === this.haproxy || p === this.etcd?.proc || gateways.has(p)),
    )
    signalAll(
      others.map((p) => p.pid),
      'SIGTERM',
    )
    const all = [...memberPids.flatMap((x) => x.pids), ...others.map((p) => p.pid)]
    if (!(await waitGone(all, 5000))) signalAll(all.filter(isAlive), 'SIGKILL')
    this.procs.killAllNow()
    await waitGone(all, 5000)
  }
}
