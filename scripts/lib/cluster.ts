// A development cluster on loopback: N members rendered by the cook's own plan/apply (cluster-files.ts), run
// by PID (cluster-procs.ts), and observed here: Patroni's view, the waits for a formed cluster, a new
// leader, HAProxy's routes and a synchronous standby, SQL and REST calls as a client makes them. Used by
// `npm run cluster`, the end-to-end tests and the benchmarks.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { httpCall, type HttpResponse } from '../../cook/https.js'
import { PATHS } from '../../cook/layout.js'
import { type Member, PG_PORT, PRIMARY_PORT, REPLICA_PORT } from './cluster-files.js'
import { ClusterProcesses } from './cluster-procs.js'
import { getKey, type KeyValue } from './etcd.js'
import { type ClusterView, clusterView, isLeader, isReplica } from './patroni.js'
import { type Conn, query, type QueryOptions } from './pg.js'
import { waitFor } from './wait.js'

export * from './cluster-files.js'

/** The cluster the tests, benchmarks and `npm run cluster` use: rendered, run and observed. */
export class Cluster extends ClusterProcesses {
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

  /**
   * Patroni's stdout and stderr (in the jail /var/log/patroni/patroni.out): what Patroni's own children print,
   * the archive_command it runs for the ready WAL before a pg_rewind among them.
   */
  patroniOutput(m: Member): string {
    try {
      return readFileSync(join(this.logDir, `${m.name}.log`), 'utf8')
    } catch {
      return ''
    }
  }

  /** Patroni's own log of the member (log.dir of its patroni.yml). */
  patroniLog(m: Member): string {
    try {
      return readFileSync(join(m.root, PATHS.patroniLogDir, 'patroni.log'), 'utf8')
    } catch {
      return ''
    }
  }

  /**
   * PostgreSQL's own log of the member (its logging collector's daily files, oldest first): what the server,
   * archive_command and restore_command print. Only the newest file grows, so an offset into the text
   * stays valid while the member runs.
   */
  serverLog(m: Member): string {
    const dir = join(m.root, PATHS.pgLogDir)
    let files: string[]
    try {
      files = readdirSync(dir).map((f) => join(dir, f))
    } catch {
      return ''
    }
    return files
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
      .map((f) => readFileSync(f, 'utf8'))
      .join('')
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
}
