// What the jail exposes for monitoring: postgres_exporter (its rc.conf variables, its environment file and
// the monitor role's password file) and the Consul services through which Prometheus's consul_sd finds
// Patroni's /metrics, postgres_exporter and node_exporter. Pure, like the plan it is part of.
import { at, PATHS, type Layout } from './layout.js'
import { authority } from './net.js'
import type { Params } from './params.js'
import { metricsScheme } from './exporter-web.js'
import { PORTS } from './ports.js'
import type { FileEntry } from './plan.js'
import { patroniUrl } from './probes.js'
import { renderTemplate } from './render.js'

/** The role postgres_exporter logs in as: LOGIN and pg_monitor, nothing more. */
export const MONITOR_ROLE = 'monitor'

/** Where postgres_exporter serves /metrics. */
export function exporterUrl(p: Params): string {
  return `${metricsScheme(p)}://${authority(p.MYIP, PORTS.pgExporter)}`
}

/**
 * The jail's own rc script (templates/rc.d/postgres_exporter, in place of the package's) reads these. The
 * package's script composes DATA_SOURCE_NAME from postgres_exporter_pg_user, _pg_pass, _pg_host and
 * _pg_port and puts it on daemon's command line, where it overrides the env file and wins over the
 * variables below: a password in rc.conf and argv, or a login that cannot work. No password goes into
 * rc.conf (world-readable) or argv here: the script sources postgres_exporter_env_file as root, and that
 * file only names the password file, which the exporter itself reads (DATA_SOURCE_PASS_FILE) as its own user.
 */
export function exporterRcConf(p: Params, layout: Layout): Record<string, string> {
  return {
    postgres_exporter_enable: 'YES',
    postgres_exporter_user: layout.exporterUser,
    postgres_exporter_listen_address: authority(p.MYIP, PORTS.pgExporter),
    postgres_exporter_env_file: at(layout, PATHS.exporterEnv),
    postgres_exporter_web_config: at(layout, PATHS.exporterWeb),
  }
}

/**
 * The exporter's connection: PostgreSQL's Unix socket (pg_hba `local ... scram-sha-256`), never TCP, so no
 * TLS and no ALLOWNETS question arises. The URI has no host part: lib/pq sorts the URI's parameters, so a
 * `host` query parameter would lose against a host in the authority.
 */
export function exporterEnvView(layout: Layout) {
  const socketDir = encodeURIComponent(at(layout, PATHS.pgSocketDir))
  return {
    uri: `/postgres?host=${socketDir}&port=5432&sslmode=disable`,
    user: MONITOR_ROLE,
    passFile: at(layout, PATHS.exporterPass),
  }
}

export function exporterFiles(p: Params, layout: Layout): FileEntry[] {
  return [
    {
      path: PATHS.exporterEnv,
      content: renderTemplate('postgres-exporter.env', exporterEnvView(layout)),
      mode: 0o644,
      owner: 'root',
      section: 'postgres_exporter',
      format: 'sh',
    },
    {
      path: PATHS.rcPgExporter,
      content: renderTemplate('rc.d/postgres_exporter', {
        user: layout.exporterUser,
        listenAddress: authority(p.MYIP, PORTS.pgExporter),
        envFile: at(layout, PATHS.exporterEnv),
        webConfig: at(layout, PATHS.exporterWeb),
        outputFile: at(layout, PATHS.pgExporterOut),
        supervisorPidfile: at(layout, PATHS.pgExporterSupervisorPid),
        exporterBin: '/usr/local/bin/postgres_exporter',
      }),
      mode: 0o755,
      owner: 'root',
      section: 'postgres_exporter',
      format: 'sh',
    },
    {
      path: PATHS.exporterPass,
      content: `${p.MONPASS}\n`,
      mode: 0o600,
      owner: layout.exporterUser,
      section: 'postgres_exporter',
      format: 'text',
      secretLines: /./,
    },
  ]
}

/**
 * Consul services for Prometheus: Patroni's REST API (GET /metrics) and postgres_exporter, with the same
 * tags as node-exporter and metadata that consul_sd turns into the `scope`, `member` and `sync_mode` labels
 * the alert rules join on. The member's role is live in Patroni's metrics (patroni_primary, patroni_replica),
 * never a static tag: a tag would be wrong after the first failover.
 */
export function consulMetricsView(p: Params) {
  const rest = new URL(patroniUrl(p))
  return {
    meta: { scope: p.SCOPE, member: p.NODENAME, sync_mode: p.SYNCMODE },
    patroniPort: Number(rest.port),
    patroniCheck: `${patroniUrl(p)}/liveness`,
    pgExporterPort: PORTS.pgExporter,
    pgExporterCheck: authority(p.MYIP, PORTS.pgExporter),
  }
}
