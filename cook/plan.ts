// From parameters to a plan: every directory and file the jail gets (with owner and mode), the rc.conf
// settings, and the order services start in. Pure: it reads nothing and writes nothing. Its one input besides
// the parameters is what the role files held before (PriorVerifiers, read by the caller); the only thing it
// draws is a random salt, for a verifier the prior one does not prove.
import { isIPv6 } from 'node:net'
import { dirname } from 'node:path'
import { authority, parseHostPort } from './net.js'
import type { Params } from './params.js'
import { effectivePgParams, paramsAt } from './pgparams.js'
import { at, JAIL_LAYOUT, PATHS, PG_CLIENT_ENV, type Layout } from './layout.js'
import { certMetricsFiles, textfileRcConf } from './cert-metrics.js'
import { consulMetricsView, exporterFiles, exporterRcConf, MONITOR_ROLE } from './monitoring.js'
import { exporterWebFiles, nodeExporterRcConf } from './exporter-web.js'
import { renderTemplate } from './render.js'
import { backupFiles, patroniBackupView, stanzaCreateView, standbyRestoreCommand } from './backup.js'
import { NEWSYSLOG_CONF, newsyslogFile, userNewsyslogFiles } from './newsyslog.js'
import { scramMatches, scramVerifier } from './secrets.js'
import { PORTS } from './ports.js'
import { consulTls, patroniTls, tlsDirsAndFiles } from './tls-files.js'

// metrics: files node_exporter reads at every scrape, which no service needs restarting for.
export type Section =
  | 'patroni'
  | 'postgres'
  | 'consul'
  | 'rc'
  | 'backup'
  | 'postgres_exporter'
  | 'node_exporter'
  | 'logs'
  | 'metrics'
export type Format = 'yaml' | 'hcl' | 'sh' | 'sql' | 'ini' | 'text' | 'pem'

export interface DirEntry {
  path: string
  mode: number
  owner: string
}

export interface FileEntry {
  path: string
  content: string
  mode: number
  owner: string
  section: Section
  format: Format
  /** Lines that carry a secret: their values are masked in dry-run diffs. */
  secretLines?: RegExp
  /** The whole file is a secret (a private key): a dry-run diff never shows it. */
  secret?: boolean
}

export type ServiceName = 'syslogd' | 'consul' | 'patroni' | 'node_exporter' | 'postgres_exporter' | 'cron'

export interface Plan {
  dirs: DirEntry[]
  files: FileEntry[]
  /** rc.conf settings, applied with sysrc; never postgresql_enable (Patroni starts PostgreSQL). */
  rcConf: Record<string, string>
  /** Start order. `cook stop` has its own order: Patroni first, while the DCS still answers (stop.ts). */
  services: ServiceName[]
}

const PSQL_SECRET = /PASSWORD/
const YAML_SECRET = /^\s*(password|token):/
const HCL_SECRET = /^\s*(encrypt|agent|default|token)\s*=/

export function plan(p: Params, layout: Layout = JAIL_LAYOUT, prior: PriorVerifiers = {}): Plan {
  const L = (path: string) => at(layout, path)
  const pg = layout.pgUser
  const dirs: DirEntry[] = [
    { path: PATHS.patroniDir, mode: 0o750, owner: pg },
    { path: PATHS.patroniLogDir, mode: 0o750, owner: pg },
    { path: PATHS.pgLogDir, mode: 0o750, owner: pg },
    { path: PATHS.pgHome, mode: 0o755, owner: pg },
    { path: PATHS.dataParent, mode: 0o750, owner: pg },
    { path: PATHS.dataDir, mode: 0o700, owner: pg },
    // Its socket: postgres alone may create entries there; everyone may connect (pg_hba asks for SCRAM).
    { path: PATHS.pgSocketDir, mode: 0o755, owner: pg },
  ]

  const files: FileEntry[] = [
    {
      path: PATHS.patroniYml,
      content: renderTemplate('patroni.yml', patroniView(p, layout)),
      mode: 0o600,
      owner: pg,
      section: 'patroni',
      format: 'yaml',
      secretLines: YAML_SECRET,
    },
    {
      path: PATHS.postBootstrap,
      content: renderTemplate('post-bootstrap.sh', {
        psql: `${layout.pgBinDir}/psql`,
        requireAuth: PG_CLIENT_ENV.PGREQUIREAUTH,
        roleSql: [L(PATHS.adminRoleSql), L(PATHS.monitorRoleSql)],
        stanza: stanzaCreateView(p, layout),
        appDatabaseSql: p.DBNAME === undefined ? null : L(PATHS.appDatabaseSql),
      }),
      mode: 0o750,
      owner: pg,
      section: 'postgres',
      format: 'sh',
    },
    {
      path: PATHS.adminRoleSql,
      content: renderTemplate('admin-role.sql', { verifier: adminVerifier(p, prior) }),
      mode: 0o600,
      owner: pg,
      section: 'postgres',
      format: 'sql',
      secretLines: PSQL_SECRET,
    },
    ...(p.DBNAME === undefined
      ? []
      : [
          {
            path: PATHS.appDatabaseSql,
            content: renderTemplate('app-database.sql', { database: p.DBNAME, owner: p.DBOWNER }),
            mode: 0o600,
            owner: pg,
            section: 'postgres' as const,
            format: 'sql' as const,
          },
        ]),
    {
      path: PATHS.monitorRoleSql,
      content: renderTemplate('monitor-role.sql', {
        role: MONITOR_ROLE,
        verifier: monitorVerifier(p, prior),
      }),
      mode: 0o600,
      owner: pg,
      section: 'postgres',
      format: 'sql',
      secretLines: PSQL_SECRET,
    },
    {
      path: PATHS.rcPatroni,
      content: renderTemplate('rc.d/patroni', {
        configPath: L(PATHS.patroniYml),
        consul: p.DCS === 'consul',
        user: pg,
        logDir: L(PATHS.patroniLogDir),
        outputFile: L(PATHS.patroniOut),
        pgLogDir: L(PATHS.pgLogDir),
        supervisorPidfile: L(PATHS.patroniSupervisorPid),
        stopTimeout: p.STOPTIMEOUT,
        patroniBin: '/usr/local/bin/patroni',
        patronictlBin: '/usr/local/bin/patronictl',
      }),
      mode: 0o755,
      owner: 'root',
      section: 'rc',
      format: 'sh',
    },
  ]
  const rcConf: Record<string, string> = {
    patroni_enable: 'YES',
    patroni_config: L(PATHS.patroniYml),
    patroni_stop_timeout: String(p.STOPTIMEOUT),
    ...nodeExporterRcConf(p, layout),
    ...textfileRcConf(layout),
    ...exporterRcConf(p, layout),
  }
  // PostgreSQL metrics come after Patroni, which starts PostgreSQL; the exporter retries until it answers.
  const services: ServiceName[] = ['patroni', 'node_exporter', 'postgres_exporter']
  dirs.push({ path: PATHS.exporterDir, mode: 0o755, owner: 'root' })
  files.push(...exporterFiles(p, layout))
  const web = exporterWebFiles(p, layout)
  dirs.push(...web.dirs)
  files.push(...web.files)
  const certMetrics = certMetricsFiles(p)
  dirs.push(...certMetrics.dirs)
  files.push(...certMetrics.files)

  const backup = backupFiles(p, layout)
  dirs.push(...backup.dirs)
  for (const f of backup.files)
    files.push({
      path: f.path,
      content: renderTemplate(f.template, f.view),
      mode: f.mode,
      owner: f.owner,
      section: 'backup',
      format: f.format,
      ...(f.secretLines ? { secretLines: f.secretLines } : {}),
    })
  // The base system's daemons that normal mode's /etc/rc starts (both are YES in /etc/defaults/rc.conf) and
  // Nomad mode (no rc) would not: cron runs newsyslog hourly from /etc/crontab (the rotation of every log in
  // NEWSYSLOG_CONF) and from cron.d as postgres and nodeexport (their own logs), and the scheduled backups; syslogd takes what cron and daemon(8) -T send to syslog, and
  // starts first, so that the daemons after it can log. Set in rc.conf too, so that an operator's NO elsewhere
  // does not turn them off unnoticed.
  rcConf.syslogd_enable = 'YES'
  rcConf.cron_enable = 'YES'
  services.unshift('syslogd')
  services.push('cron')

  if (p.DCS === 'consul') {
    const consul = layout.consulUser
    dirs.push(
      { path: PATHS.consulDir, mode: 0o750, owner: consul },
      { path: PATHS.consulDataDir, mode: 0o750, owner: consul },
      { path: PATHS.consulLogDir, mode: 0o750, owner: consul },
    )
    files.push({
      path: PATHS.consulAgent,
      content: renderTemplate('consul-agent.hcl', consulView(p, layout)),
      mode: 0o640,
      owner: consul,
      section: 'consul',
      format: 'hcl',
      secretLines: HCL_SECRET,
    })
    // `cook stop` hands it to `consul leave` as CONSUL_HTTP_TOKEN_FILE: never in argv or an environment.
    const agentToken = consulView(p, layout).token
    if (agentToken !== null)
      files.push({
        path: PATHS.consulLeaveToken,
        content: `${agentToken}\n`,
        mode: 0o600,
        owner: 'root',
        section: 'consul',
        format: 'text',
        secret: true,
      })
    rcConf.consul_enable = 'YES'
    // The port's rc script (sysutils/consul/files/consul.in) passes -data-dir=${consul_datadir} (consul_dir
    // is its older name, still honoured) and -config-dir=/usr/local/etc/consul.d, where agent.hcl is.
    rcConf.consul_datadir = L(PATHS.consulDataDir)
    services.splice(1, 0, 'consul')
  }
  const tls = tlsDirsAndFiles(p, layout)
  dirs.push(...tls.dirs)
  files.push(...tls.files)
  // Log rotation: nothing to refresh when it changes, newsyslog reads it at every run. Only in the jail:
  // a rebased tree (the Linux dev cluster) has no newsyslog, and its paths may hold blanks newsyslog cannot.
  if (layout.base === '') {
    dirs.push({ path: dirname(NEWSYSLOG_CONF), mode: 0o755, owner: 'root' })
    files.push(newsyslogFile(p, layout))
    // The logs in postgres's and nodeexport's directories: rotated by newsyslog run as them (newsyslog.ts).
    const user = userNewsyslogFiles(p, layout)
    for (const d of user.dirs) if (!dirs.some((x) => x.path === d.path)) dirs.push(d)
    files.push(...user.files)
  }
  return { dirs, files, rcConf, services }
}

/** The values consul-agent.hcl.hbs reads. */
export function consulView(p: Params, layout: Layout) {
  const L = (path: string) => at(layout, path)
  return {
    datacenter: p.DATACENTER,
    nodeName: p.NODENAME,
    dataDir: L(PATHS.consulDataDir),
    myIp: p.MYIP,
    // Consul wants literal IPv6 addresses in brackets in retry_join.
    servers: p.CONSULSERVERS.map((s) => (isIPv6(s) ? `[${s}]` : s)),
    gossipKey: p.GOSSIPKEY,
    logFile: `${L(PATHS.consulLogDir)}/consul.log`,
    // The agent's own token: its node, the services of this file, `consul leave`. No default token: a request
    // without a token (anyone on 127.0.0.1:8500) gets the anonymous token's rights, not Patroni's.
    token: p.CONSULACL === 'on' ? (p.CONSULAGENTTOKEN ?? p.CONSULTOKEN ?? null) : null,
    exporterTags: [p.SCOPE, p.NODENAME],
    exporterPort: PORTS.nodeExporter,
    // A TCP check: every HTTP path needs METRICSPASS, which does not belong in Consul's catalog.
    exporterCheck: authority(p.MYIP, PORTS.nodeExporter),
    tls: consulTls(p, layout),
    ...consulMetricsView(p),
  }
}

/** The values patroni.yml.hbs reads. */
export function patroniView(p: Params, layout: Layout) {
  const L = (path: string) => at(layout, path)
  const tls = patroniTls(p, layout)
  const hba = pgHba(p, tls !== null)
  const pgParams = effectivePgParams(p.PGPARAMS, p.MEMORY)
  // Only the member that creates a standby cluster needs standby_cluster: bootstrap.dcs is read once.
  const standby =
    p.SERVICETAG === 'standby-leader' && p.STANDBYHOST !== undefined
      ? parseHostPort(p.STANDBYHOST, PORTS.postgres)
      : null
  return {
    configPath: L(PATHS.patroniYml),
    scope: p.SCOPE,
    name: p.NODENAME,
    logDir: L(PATHS.patroniLogDir),
    pgLogDir: L(PATHS.pgLogDir),
    restListen: authority(p.MYIP, PORTS.patroniRest),
    restConnect: authority(p.MYIP, PORTS.patroniRest),
    restPassword: p.RESTPASS,
    // Unsafe endpoints (switchover, restart, reinitialize, config) only from this member, the members'
    // networks and the members Patroni knows (allowlist_include_members: failsafe's POST /failsafe).
    // Not from ALLOWNETS: applications have no business there, and operators run patronictl on a member.
    restAllowlist: [...new Set([...p.MEMBERNETS, isIPv6(p.MYIP) ? `${p.MYIP}/128` : `${p.MYIP}/32`])],
    tls,
    // TLS 1.2 at least, unless PGPARAMS raises it (then it is among localParameters).
    sslMinProtocol: p.PGPARAMS.ssl_min_protocol_version === undefined ? 'TLSv1.2' : null,
    consul:
      p.DCS === 'consul'
        ? {
            host: authority('127.0.0.1', PORTS.consulHttp),
            token: p.CONSULACL === 'on' ? (p.CONSULTOKEN ?? null) : null,
          }
        : null,
    etcd:
      p.DCS === 'etcd'
        ? {
            hosts: p.ETCDHOSTS,
            proxy: p.ETCDPROXY === undefined ? null : `${tls ? 'https' : 'http'}://${p.ETCDPROXY}`,
          }
        : null,
    ttl: p.TTL,
    loopWait: p.LOOPWAIT,
    retryTimeout: p.RETRYTIMEOUT,
    maxLag: p.MAXLAG,
    synchronousMode: p.SYNCMODE !== 'off',
    synchronousModeStrict: p.SYNCMODE === 'strict',
    standby:
      standby === null || typeof standby !== 'object'
        ? null
        : {
            ...standby,
            slot: p.STANDBYSLOT ?? null,
            // The hook the backup configuration fills: WAL from the remote cluster's archive when streaming
            // cannot serve it (a cut longer than the slot can bridge, or a slot that was dropped).
            restoreCommand: standbyRestoreCommand(p, layout),
          },
    failsafe: p.FAILSAFE,
    slots: p.SLOTS.map((s) =>
      s.type === 'physical'
        ? { name: s.name, type: s.type, database: null, plugin: null }
        : { name: s.name, type: s.type, database: s.database, plugin: s.plugin },
    ),
    dcsParameters: paramsAt(pgParams, 'dcs'),
    localParameters: paramsAt(pgParams, 'local'),
    tags: {
      nofailover: p.NOFAILOVER,
      noloadbalance: p.NOLOADBALANCE,
      nosync: p.NOSYNC,
      replicatefrom: p.REPLICATEFROM ?? null,
    },
    pgHba: hba,
    postBootstrap: L(PATHS.postBootstrap),
    pgListen: authority(p.MYIP, PORTS.postgres),
    pgConnect: authority(p.MYIP, PORTS.postgres),
    dataDir: L(PATHS.dataDir),
    binDir: layout.pgBinDir,
    pgpass: L(PATHS.pgpass),
    socketDir: L(PATHS.pgSocketDir),
    superuserPassword: p.KEKPASS,
    replicationPassword: p.REPPASS,
    rewindPassword: p.REWINDPASS,
    ...patroniBackupView(p, layout),
  }
}

/** Roles that only Patroni, cook, pgBackRest and postgres_exporter use: never admitted from ALLOWNETS. */
export const RESERVED_ROLES = ['postgres', 'replicator', 'rewinder', MONITOR_ROLE] as const

/**
 * pg_hba.conf, first match wins. This member's own clients (Patroni, cook, pgBackRest, postgres_exporter)
 * use the socket. Over TCP: postgres, rewinder and physical replication only from MEMBERNETS; every other
 * source is rejected for them by explicit lines, so no later line can admit them by accident; monitor never
 * over TCP; everyone else (admin and the roles it creates) from ALLOWNETS. With TLS the admitting lines are
 * hostssl, so a client without TLS matches none of them; the reject lines are `host` (TLS or not).
 */
export function pgHba(p: Params, tls: boolean): string[] {
  const host = tls ? 'hostssl' : 'host'
  return [
    'local all all scram-sha-256',
    'local replication replicator scram-sha-256',
    ...p.MEMBERNETS.map((net) => `${host} replication replicator ${net} scram-sha-256`),
    ...p.MEMBERNETS.map((net) => `${host} all postgres,rewinder ${net} scram-sha-256`),
    'host replication all all reject',
    `host all ${RESERVED_ROLES.join(',')} all reject`,
    ...p.ALLOWNETS.map((net) => `${host} all all ${net} scram-sha-256`),
  ]
}

/**
 * The SCRAM verifiers this member's role files held before this run (readPriorVerifiers, cook/prior.ts), the
 * one thing plan() takes from disk: read before it by the thin layer that calls it.
 */
export interface PriorVerifiers {
  admin?: string | undefined
  monitor?: string | undefined
}

/**
 * A role's SCRAM verifier: the one the role file already holds when it proves the password, so a second run
 * writes the same bytes, else a new one with a random salt. PostgreSQL sends the salt to anyone who starts a
 * SCRAM login, before any password is checked: a salt must say nothing about any secret.
 */
export function roleVerifier(password: string, prior: string | undefined): string {
  return prior !== undefined && scramMatches(prior, password) ? prior : scramVerifier(password)
}

/** The monitor role's SCRAM verifier. */
export function monitorVerifier(p: Params, prior: PriorVerifiers = {}): string {
  return roleVerifier(p.MONPASS, prior.monitor)
}

/** The admin role's SCRAM verifier. */
export function adminVerifier(p: Params, prior: PriorVerifiers = {}): string {
  return roleVerifier(p.ADMPASS, prior.admin)
}
