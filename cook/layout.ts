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
}

export const JAIL_LAYOUT: Layout = {
  base: '',
  pgBinDir: '/usr/local/bin',
  pgbackrestBin: '/usr/local/bin/pgbackrest',
  pgUser: 'postgres',
  consulUser: 'consul',
  exporterUser: 'pgmonitor',
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
  /** Patroni's stdout and stderr, appended by daemon(8) as root: not in the postgres-owned log folder. */
  patroniOut: '/var/log/patroni.out',
  /** daemon(8)'s pid, the supervisor of Patroni: `service patroni stop` and newsyslog signal it. */
  patroniSupervisorPid: '/var/run/patroni_daemon.pid',
  pgHome: '/var/db/postgres',
  pgpass: '/var/db/postgres/.pgpass.patroni',
  pgSocketDir: '/tmp',
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
