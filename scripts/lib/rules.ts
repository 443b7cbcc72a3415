// The shipped Prometheus alert rules (monitoring/alerts.yml) as data: read by the promtool unit test, by the
// dev cluster's Prometheus, and by the live alert test, which shortens the `for:` durations but keeps every
// expression exactly as shipped.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'

export const MONITORING_DIR = fileURLToPath(new URL('../../monitoring/', import.meta.url))
export const ALERTS_FILE = `${MONITORING_DIR}alerts.yml`
export const ALERT_TESTS_FILE = `${MONITORING_DIR}alerts.test.yml`

export interface AlertRule {
  alert: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

export interface RuleFile {
  groups: { name: string; interval?: string; rules: AlertRule[] }[]
}

export function readRules(path = ALERTS_FILE): RuleFile {
  return parse(readFileSync(path, 'utf8')) as RuleFile
}

export function alertNames(rules: RuleFile): string[] {
  return rules.groups.flatMap((g) => g.rules.map((r) => r.alert))
}

/** The same rules with other `for:` durations (by alert name) and, optionally, a group evaluation interval. */
export function withDurations(rules: RuleFile, durations: Record<string, string>, interval?: string): string {
  return stringify({
    groups: rules.groups.map((g) => ({
      ...g,
      ...(interval ? { interval } : {}),
      rules: g.rules.map((r) => (r.alert in durations ? { ...r, for: durations[r.alert] } : r)),
    })),
  })
}
