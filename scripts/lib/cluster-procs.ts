// A development cluster's processes, by PID: etcd, each member's Patroni under supervision (with its etcd
// gateway and exporters when asked), HAProxy; starting, stopping, killing, freezing, and stopping them all.
// Never by name, never a process this cluster did not start.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PATHS } from '../../cook/layout.js'
import { StepLog } from '../../cook/log.js'
import { type RawParams, validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { clusterExists } from '../../cook/probes.js'
import { sh } from '../../cook/quote.js'
import { renderedSuperuserPassword, rotateRoles, type RotateResult } from '../../cook/rotate.js'
import {
  ClusterFiles,
  GATEWAY_PORT,
  type Member,
  NODE_EXPORTER_BIN,
  PATRONI_RESTART_DELAY_MS,
  PG_EXPORTER_BIN,
} from './cluster-files.js'
import { type Etcd, startEtcd } from './etcd.js'
import { writePgpass } from './pg.js'
import { descendants, exited, isAlive, type Proc, Procs, signalAll, waitGone } from './procs.js'
import { GiveUp, waitFor } from './wait.js'

/** The rendered cluster, run: every process it starts is tracked in `procs` and stopped by `destroy`. */
export class ClusterProcesses extends ClusterFiles {
  readonly procs = new Procs()
  etcd: Etcd | undefined
  haproxy: Proc | undefined

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

  /** etcd, the first member, then (once the cluster exists in the DCS) the others, then HAProxy. */
  async start(): Promise<void> {
    await this.startEtcd()
    const [first, ...rest] = this.members
    if (first) this.startMember(first)
    // As in the jails: a replica only joins a cluster that exists, it never initialises one.
    // The gate is the cook's own (cook/probes.ts clusterExists, what a replica's jail start waits for),
    // asked with the first member's parameters: its DCS endpoint, its certificate.
    await waitFor(
      'the first member to claim the cluster in etcd',
      () => (this.checkProcesses(), first ? clusterExists(first.params, '') : true),
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
      // The arguments the port's rc script builds from node_exporter_listen_address,
      // node_exporter_textfile_dir and node_exporter_args (the web config: TLS and basic auth).
      m.nodeExporter = this.procs.start(
        `${m.name}-node-exporter`,
        [
          NODE_EXPORTER_BIN,
          `--web.listen-address=${rc.node_exporter_listen_address ?? ''}`,
          `--collector.textfile.directory=${rc.node_exporter_textfile_dir ?? ''}`,
          ...(rc.node_exporter_args ?? '').split(' ').filter((a) => a !== ''),
        ],
        {
          user: rc.node_exporter_user ?? 'prometheus',
          log: join(this.logDir, `${m.name}-node-exporter.log`),
        },
      )
    }
    m.up = true
    return m.proc
  }

  /**
   * postgres_exporter as the jail's rc.d starts it: the environment file the cook rendered is sourced (what
   * rc.subr does with postgres_exporter_env_file), the exporter runs as its own user and reads the monitor
   * role's password from the file named there, and its web config (TLS, basic auth). argv holds no secret.
   */
  private startExporter(m: Member): Proc {
    const rc = plan(m.params, this.layout(m)).rcConf
    const envFile = rc.postgres_exporter_env_file ?? ''
    const script = `set -a; . ${sh(envFile)}; set +a; exec ${sh(PG_EXPORTER_BIN)} --web.listen-address=${sh(rc.postgres_exporter_listen_address ?? '')} --web.config.file=${sh(rc.postgres_exporter_web_config ?? '')}`
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
