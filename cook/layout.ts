// Where things live in the jail. The local development cluster rebases every path under a work folder,
// so the same templates run on a Linux machine with Debian's PostgreSQL.
import { join } from 'node:path'

export interface Layout {
  /** Prefix applied to every path written into file contents ('' in the jail). */
  base: string
  pgBinDir: string
  /** pgBackRest's program, named in archive_command, restore_command and the scripts. */
  pgbackrestBin: string
  /** The user PostgreSQL and Patroni run as, and the consul agent's user. */
  pgUser: string
  consulUser: string
  /** The user postgres_exporter runs as: it alone may read the monitor role's password file. */
  exporterUser: string
  /** The user node_exporter runs as (not the port's `nobody`): it alone may read its web config and key. */
  nodeExporterUser: string
}

export const JAIL_LAYOUT: Layout = {
  base: '',
  pgBinDir: '/usr/local/bin',
  pgbackrestBin: '/usr/local/bin/pgbackrest',
  pgUser: 'postgres',
  consulUser: 'consul',
  exporterUser: 'pgmonitor',
  nodeExporterUser: 'nodeexport',
}

/** Jail paths; `at` adds the layout's base for use inside file contents. */
export const PATHS = {
  patroniDir: '/usr/local/etc/patroni',
  patroniYml: '/usr/local/etc/patroni/patroni.yml',
  postBootstrap: '/usr/local/etc/patroni/post-bootstrap.sh',
  adminRoleSql: '/usr/local/etc/patroni/admin-role.sql',
  patroniTlsDir: '/usr/local/etc/patroni/tls',
  patroniCa: '/usr/local/etc/patroni/tls/ca.crt',
  patroniCert: '/usr/local/etc/patroni/tls/member.crt',
  patroniKey: '/usr/local/etc/patroni/tls/member.key',
  appDatabaseSql: '/usr/local/etc/patroni/app-database.sql',
  patroniLogDir: '/var/log/patroni',
  /**
   * Patroni's stdout and stderr (what its children print: initdb, pg_basebackup, cook-restore, a traceback),
   * opened by the rc.d script's `sh -c` as postgres before Patroni runs: never daemon(8)'s pipe.
   */
  patroniOut: '/var/log/patroni/patroni.out',
  /** PostgreSQL's own log (logging_collector): a week of daily files, rotated by PostgreSQL. */
  pgLogDir: '/var/log/postgresql',
  /** daemon(8)'s pid, the supervisor of Patroni: `service patroni stop` signals it. */
  patroniSupervisorPid: '/var/run/patroni_daemon.pid',
  pgHome: '/var/db/postgres',
  pgpass: '/var/db/postgres/.pgpass.patroni',
  /**
   * PostgreSQL's Unix socket: a directory only postgres (and root) can write, so nobody else can put a
   * fake server at .s.PGSQL.5432 while PostgreSQL is down (in /tmp anyone could, and collect passwords).
   */
  pgSocketDir: '/var/run/postgresql',
  dataParent: '/mnt/postgres',
  dataDir: '/mnt/postgres/data',
  consulDir: '/usr/local/etc/consul.d',
  consulAgent: '/usr/local/etc/consul.d/agent.hcl',
  consulTlsDir: '/usr/local/etc/consul.d/tls',
  consulCa: '/usr/local/etc/consul.d/tls/ca.crt',
  consulCert: '/usr/local/etc/consul.d/tls/member.crt',
  consulKey: '/usr/local/etc/consul.d/tls/member.key',
  consulDataDir: '/var/db/consul',
  consulLogDir: '/var/log/consul',
  rcPatroni: '/usr/local/etc/rc.d/patroni',
  monitorRoleSql: '/usr/local/etc/patroni/monitor-role.sql',
  exporterDir: '/usr/local/etc/postgres_exporter',
  exporterEnv: '/usr/local/etc/postgres_exporter/env',
  exporterPass: '/usr/local/etc/postgres_exporter/monitor.pass',
  /** exporter-toolkit's --web.config.file of each exporter (TLS and basic auth), with its own key copy. */
  exporterWeb: '/usr/local/etc/postgres_exporter/web.yml',
  exporterCert: '/usr/local/etc/postgres_exporter/member.crt',
  exporterKey: '/usr/local/etc/postgres_exporter/member.key',
  /** The jail's own rc script for postgres_exporter, in place of the package's (README, Monitoring). */
  rcPgExporter: '/usr/local/etc/rc.d/postgres_exporter',
  /** postgres_exporter's output, appended by daemon(8) as root; its supervisor's pid for newsyslog. */
  pgExporterOut: '/var/log/postgres_exporter.log',
  pgExporterSupervisorPid: '/var/run/postgres_exporter_daemon.pid',
  nodeExporterDir: '/usr/local/etc/node_exporter',
  nodeExporterWeb: '/usr/local/etc/node_exporter/web.yml',
  nodeExporterCert: '/usr/local/etc/node_exporter/member.crt',
  nodeExporterKey: '/usr/local/etc/node_exporter/member.key',
  /** node_exporter's output (daemon -o, as node_exporter's user: rc.subr runs the port's daemon(8) with su). */
  nodeExporterLogDir: '/var/log/node_exporter',
  nodeExporterOut: '/var/log/node_exporter/node_exporter.log',
  nodeExporterRunDir: '/var/run/node_exporter',
  nodeExporterSupervisorPid: '/var/run/node_exporter/daemon.pid',
  seasoned: '/usr/local/etc/pot-is-seasoned',
  cookLog: '/var/log/cook.log',
  digestKey: '/var/db/cook/digest.key',
  /** The superuser password a start replaces, kept (0600, root) until the leader's roles have the new one. */
  previousSuperuser: '/var/db/cook/previous-superuser',
  stopping: '/var/run/cook.stopping',
  /** The Consul agent's token for `consul leave` (CONSUL_HTTP_TOKEN_FILE), 0600 root. */
  consulLeaveToken: '/var/db/cook/consul-agent.token',
  /** node_exporter's textfile collector reads *.prom here: the FreeBSD port's default, set in rc.conf too. */
  textfileDir: '/var/tmp/node_exporter',
  tlsExpiryMetrics: '/var/tmp/node_exporter/cook_tls.prom',
} as const

export function at(layout: Layout, path: string): string {
  return layout.base === '' ? path : join(layout.base, path)
}

/**
 * What every libpq client the cook runs or renders (psql, pgBackRest) gets in its environment: refuse a
 * server that asks for anything but SCRAM (a cleartext or md5 request would hand a fake server the
 * password, or something as good as it). libpq reads PGREQUIREAUTH since PostgreSQL 16 (require_auth) and
 * older libpq ignores it, so it is on wherever the jail's client library can honour it.
 */
export const PG_CLIENT_ENV = { PGREQUIREAUTH: 'scram-sha-256' } as const
