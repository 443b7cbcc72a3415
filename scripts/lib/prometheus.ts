// A real Prometheus (Debian's package) scraping a development cluster: Patroni's /metrics and each member's
// postgres_exporter, with the labels the README's consul_sd configuration gives (scope, member, sync_mode),
// and the shipped alert rules. Used by `npm run cluster -- --prometheus`, the live alert test and the bench.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { METRICS_USER, nodeExporterUrl } from '../../cook/exporter-web.js'
import { exporterUrl } from '../../cook/monitoring.js'
import { patroniUrl } from '../../cook/probes.js'
import type { Cluster } from './cluster.js'
import type { Proc } from './procs.js'
import { readRules, withDurations } from './rules.js'
import { GiveUp, waitFor } from './wait.js'

export const PROMETHEUS_BIN = '/usr/bin/prometheus'

export interface PrometheusOptions {
  /** Where it listens, e.g. 127.0.0.1:9090. */
  listen: string
  /** Scrape and rule evaluation interval, e.g. '15s' (the tests use '1s'). */
  interval?: string
  /** Shorter `for:` durations by alert name (the expressions stay as shipped). */
  durations?: Record<string, string>
}

export interface Prometheus {
  proc: Proc
  url: string
  dir: string
}

const host = (url: string) => new URL(url).host

/**
 * The scrape configuration: the static equivalent of the README's consul_sd jobs. The exporters admit only
 * the user `prometheus` with METRICSPASS (read from `passwordFile`), over HTTPS verified against the CA.
 */
export function scrapeConfig(c: Cluster, interval: string, passwordFile: string): object {
  const target = (url: string, labels: Record<string, string>) => ({ targets: [host(url)], labels })
  const exporterAuth = {
    ...(c.tls ? { scheme: 'https', tls_config: { ca_file: c.tls.ca.cert } } : {}),
    basic_auth: { username: METRICS_USER, password_file: passwordFile },
  }
  return {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: ['alerts.yml'],
    scrape_configs: [
      {
        job_name: 'patroni',
        // Patroni's metrics carry `scope` themselves; keep it rather than add exported_scope.
        honor_labels: true,
        // With TLS (the default) Patroni's REST API is HTTPS only: verified against the cluster's CA. GET
        // /metrics is a safe request, so it needs neither REST credentials nor a client certificate.
        ...(c.tls ? { scheme: 'https', tls_config: { ca_file: c.tls.ca.cert } } : {}),
        static_configs: c.members.map((m) =>
          target(patroniUrl(m.params), {
            scope: m.params.SCOPE,
            member: m.name,
            sync_mode: m.params.SYNCMODE,
          }),
        ),
      },
      {
        job_name: 'node',
        ...exporterAuth,
        static_configs: c.members.map((m) =>
          target(nodeExporterUrl(m.params), {
            scope: m.params.SCOPE,
            member: m.name,
          }),
        ),
      },
      {
        job_name: 'postgres',
        ...exporterAuth,
        static_configs: c.members.map((m) =>
          target(exporterUrl(m.params), { scope: m.params.SCOPE, member: m.name }),
        ),
      },
    ],
  }
}

export async function startPrometheus(c: Cluster, opts: PrometheusOptions): Promise<Prometheus> {
  const dir = join(c.opts.dir, 'prometheus')
  mkdirSync(join(dir, 'data'), { recursive: true })
  const interval = opts.interval ?? '15s'
  // Every member has the same METRICSPASS (derived from the shared KEKPASS and SCOPE, or given).
  const passwordFile = join(dir, 'metrics.pass')
  writeFileSync(passwordFile, `${c.members[0]?.params.METRICSPASS ?? ''}\n`, { mode: 0o600 })
  writeFileSync(join(dir, 'prometheus.yml'), stringify(scrapeConfig(c, interval, passwordFile)))
  writeFileSync(join(dir, 'alerts.yml'), withDurations(readRules(), opts.durations ?? {}))
  const proc = c.procs.start(
    'prometheus',
    [
      PROMETHEUS_BIN,
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${opts.listen}`,
      '--storage.tsdb.retention.time=1d',
    ],
    { log: join(c.logDir, 'prometheus.log'), cwd: dir },
  )
  const url = `http://${opts.listen}`
  await waitFor(
    'Prometheus to be ready',
    async () => {
      if (proc.done) throw new GiveUp(`prometheus exited (see ${join(c.logDir, 'prometheus.log')})`)
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
      await res.body?.cancel()
      return res.ok
    },
    { timeout: 60000, interval: 250 },
  )
  return { proc, url, dir }
}

export interface ActiveAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: 'pending' | 'firing'
  activeAt: string
}

/** GET /api/v1/alerts: the alerts that are pending or firing now. */
export async function activeAlerts(url: string): Promise<ActiveAlert[]> {
  const res = await fetch(`${url}/api/v1/alerts`, { signal: AbortSignal.timeout(2000) })
  if (!res.ok) throw new Error(`${url}/api/v1/alerts: HTTP ${res.status}`)
  const body = (await res.json()) as { data: { alerts: ActiveAlert[] } }
  return body.data.alerts
}

/** GET /api/v1/query: an instant query's samples as label sets with values. */
export async function instantQuery(
  url: string,
  query: string,
): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`, {
    signal: AbortSignal.timeout(2000),
  })
  if (!res.ok) throw new Error(`query ${query}: HTTP ${res.status}`)
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] }
  }
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
}
