// From parameters to a plan: every directory and file the jail gets (with owner and mode), the rc.conf
// settings, and the order services start in. Pure: it reads nothing and writes nothing.
import { createHmac } from 'node:crypto'
import { isIPv6 } from 'node:net'
import { dirname } from 'node:path'
import { authority, parseHostPort } from './net.js'
import type { Params } from './params.js'
import { effectivePgParams, paramsAt } from './pgparams.js'
import { at, JAIL_LAYOUT, PATHS, type Layout } from './layout.js'
import { certMetricsFiles, textfileRcConf } from './cert-metrics.js'
import { consulMetricsView, exporterFiles, exporterRcConf, MONITOR_ROLE } from './monitoring.js'
import { renderTemplate } from './render.js'
import {
  backupFiles,
  backupsOn,
  patroniBackupView,
  stanzaCreateView,
  standbyRestoreCommand,
} from './backup.js'
import { NEWSYSLOG_CONF, newsyslogFile } from './newsyslog.js'
import { scramVerifier } from './secrets.js'
import { PORTS } from './ports.js'
import { consulTls, patroniTls, tlsDirsAndFiles } from './tls-files.js'

// metrics: files node_exporter reads at every scrape, which no service needs restarting for.
export type Section =
  'patroni' | 'postgres' | 'consul' | 'rc' | 'backup' | 'postgres_exporter' | 'logs' | 'metrics'
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

export type ServiceName = 'consul' | 'patroni' | 'node_exporter' | 'postgres_exporter' | 'cron'

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

export function plan(p: Params, layout: Layout = JAIL_LAYOUT): Plan {
  const L = (path: string) => at(layout, path)
  const pg = layout.pgUser
  const dirs: DirEntry[] = [
    { path: PATHS.patroniDir, mode: 0o750, owner: pg },
    { path: PATHS.patroniLogDir, mode: 0o750, owner: pg },
    { path: PATHS.pgHome, mode: 0o755, owner: pg },
    { path: PATHS.dataParent, mode: 0o750, owner: pg },
    { path: PATHS.dataDir, mode: 0o700, owner: pg },
  ]
  // In the jail /tmp exists already; a rebased tree needs its own socket directory.
  if (layout.base !== '') dirs.push({ path: PATHS.pgSocketDir, mode: 0o755, owner: pg })

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
      content: renderTemplate('admin-role.sql', { verifier: adminVerifier(p) }),
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
      content: renderTemplate('monitor-role.sql', { role: MONITOR_ROLE, verifier: monitorVerifier(p) }),
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
    node_exporter_enable: 'YES',
    node_exporter_listen_address: authority(p.MYIP, PORTS.nodeExporter),
    ...textfileRcConf(layout),
    ...exporterRcConf(p, layout),
  }
  // PostgreSQL metrics come after Patroni, which starts PostgreSQL; the exporter retries until it answers.
  const services: ServiceName[] = ['patroni', 'node_exporter', 'postgres_exporter']
  dirs.push({ path: PATHS.exporterDir, mode: 0o755, owner: 'root' })
  files.push(...exporterFiles(p, layout))
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
  if (backupsOn(p)) {
    // The scheduled backups; normal mode's /etc/rc starts cron anyway, Nomad mode (no rc) needs it started.
    rcConf.cron_enable = 'YES'
    services.push('cron')
  }

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
    rcConf.consul_dir = L(PATHS.consulDataDir)
    services.unshift('consul')
  }
  const tls = tlsDirsAndFiles(p, layout)
  dirs.push(...tls.dirs)
  files.push(...tls.files)
  // Log rotation: nothing to refresh when it changes, newsyslog reads it at every run. Only in the jail:
  // a rebased tree (the Linux dev cluster) has no newsyslog, and its paths may hold blanks newsyslog cannot.
  if (layout.base === '') {
    dirs.push({ path: dirname(NEWSYSLOG_CONF), mode: 0o755, owner: 'root' })
    files.push(newsyslogFile(p, layout))
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
    exporterCheck: `http://${authority(p.MYIP, PORTS.nodeExporter)}/metrics`,
    tls: consulTls(p, layout),
    ...consulMetricsView(p),
  }
}

/** The values patroni.yml.hbs reads. */
export function patroniView(p: Params, layout: Layout) {
  const L = (path: string) => at(layout, path)
  const tls = patroniTls(p, layout)
  // With TLS every TCP line is hostssl: a client that does not speak TLS matches no line and is refused.
  const host = tls ? 'hostssl' : 'host'
  const hba = [
    'local all all scram-sha-256',
    `${host} all all 127.0.0.1/32 scram-sha-256`,
    `${host} all all ::1/128 scram-sha-256`,
    ...p.ALLOWNETS.map((net) => `${host} replication replicator ${net} scram-sha-256`),
    ...p.ALLOWNETS.map((net) => `${host} all all ${net} scram-sha-256`),
  ]
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
    restListen: authority(p.MYIP, PORTS.patroniRest),
    restConnect: authority(p.MYIP, PORTS.patroniRest),
    restPassword: p.RESTPASS,
    // Unsafe endpoints only from the client networks, this member and the other members (failsafe, ...).
    restAllowlist: [...new Set([...p.ALLOWNETS, isIPv6(p.MYIP) ? `${p.MYIP}/128` : `${p.MYIP}/32`])],
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

/** The monitor role's SCRAM verifier, salted like the admin role's. */
export function monitorVerifier(p: Params): string {
  const salt = createHmac('sha256', p.KEKPASS).update(`monitor-salt/${p.SCOPE}`).digest().subarray(0, 16)
  return scramVerifier(p.MONPASS, salt)
}

/**
 * The admin role's SCRAM verifier. Its salt comes from KEKPASS and SCOPE, so the same parameters render
 * the same file (a second run changes nothing) while the salt stays unknown to anyone without KEKPASS.
 */
export function adminVerifier(p: Params): string {
  const salt = createHmac('sha256', p.KEKPASS).update(`admin-salt/${p.SCOPE}`).digest().subarray(0, 16)
  return scramVerifier(p.ADMPASS, salt)
}
