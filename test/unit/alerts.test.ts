// The shipped alert rules: promtool accepts them, and monitoring/alerts.test.yml proves with `promtool test
// rules` that each alert fires on its failure and stays quiet next to it. To show those tests can fail, each
// rule is also replaced in turn by one that never fires and one that always fires: the suite must reject both.
import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import {
  ALERT_TESTS_FILE,
  ALERTS_FILE,
  alertNames,
  readRules,
  type RuleFile,
} from '../../scripts/lib/rules.js'
import { tempDir } from '../helpers.js'

interface RuleTests {
  rule_files: string[]
  tests: {
    name: string
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[]
  }[]
}

// promtool takes a few seconds per run on a loaded machine.
t.setTimeout(180_000)

const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' })

t.test('promtool check rules accepts the rules file', async (t) => {
  const r = promtool('check', 'rules', ALERTS_FILE)
  t.equal(r.status, 0, r.stdout + r.stderr)
  t.match(r.stdout, /SUCCESS: \d+ rules found/)
})

t.test('promtool test rules: every alert fires and stays quiet as its tests say', async (t) => {
  const r = promtool('test', 'rules', ALERT_TESTS_FILE)
  t.equal(r.status, 0, r.stdout + r.stderr)
})

t.test('every alert has a case where it fires and one where it stays quiet', async (t) => {
  const rules = readRules()
  const tests = parse(readFileSync(ALERT_TESTS_FILE, 'utf8')) as RuleTests
  t.same(tests.rule_files, ['alerts.yml'])
  const cases = tests.tests.flatMap((x) => x.alert_rule_test ?? [])
  const names = alertNames(rules)
  t.same(
    [...new Set(cases.map((c) => c.alertname))].filter((n) => !names.includes(n)),
    [],
    'no test names an alert the file lacks',
  )
  for (const name of names) {
    const mine = cases.filter((c) => c.alertname === name)
    t.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${name} has a firing case`,
    )
    t.ok(
      mine.some((c) => c.exp_alerts.length === 0),
      `${name} has a quiet case`,
    )
  }
  for (const g of rules.groups)
    for (const rule of g.rules) {
      t.ok(rule.labels?.severity, `${rule.alert} has a severity`)
      t.ok(rule.annotations?.summary, `${rule.alert} has a summary`)
    }
})

t.test('the tests reject rules that never fire and rules that always fire', async (t) => {
  const dir = tempDir(t)
  copyFileSync(ALERT_TESTS_FILE, join(dir, 'alerts.test.yml'))
  const rules = readRules()
  // Every rule replaced at once (one promtool run each way); promtool reports each failing alert.
  const mutate = (expr: string): RuleFile => ({
    groups: rules.groups.map((g) => ({ ...g, rules: g.rules.map((r) => ({ ...r, expr })) })),
  })
  for (const [what, expr] of [
    ['never fires', 'vector(1) == 2'],
    ['always fires', 'vector(1)'],
  ] as const) {
    writeFileSync(join(dir, 'alerts.yml'), JSON.stringify(mutate(expr)))
    const r = promtool('test', 'rules', join(dir, 'alerts.test.yml'))
    t.not(r.status, 0, `rules that ${what} fail the tests`)
    const out = r.stdout + r.stderr
    for (const name of alertNames(rules))
      t.match(out, new RegExp(`alertname: ${name},`), `a ${name} that ${what} fails its tests`)
  }
})

t.test("the README's scrape configuration is one promtool accepts, with the shipped rules", async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('### Scrape configuration'))
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1]
  t.ok(block, 'the README has the block')
  type Job = { job_name: string; consul_sd_configs?: { server: string; services: string[] }[] }
  const config = parse(block ?? '') as { scrape_configs: Job[] }
  t.same(
    config.scrape_configs.map((j) => j.consul_sd_configs?.map((c) => [c.server, c.services])),
    [
      [['127.0.0.1:8500', ['patroni-api']]],
      [['127.0.0.1:8500', ['postgres-exporter']]],
      [['127.0.0.1:8500', ['node-exporter']]],
    ],
    'each job finds its Consul service through the local agent',
  )
  // Debian's Prometheus is built without Consul discovery, so promtool checks everything else: the jobs
  // with static targets in place of consul_sd_configs, their relabelling, and the rule file.
  const checkable = block?.replace(
    /consul_sd_configs:\n(\s+)- server: .*\n\s+services: .*\n/g,
    'static_configs:\n$1- targets: ["127.0.0.1:1"]\n',
  )
  t.notMatch(checkable, /consul_sd_configs/)
  const dir = tempDir(t)
  copyFileSync(ALERTS_FILE, join(dir, 'alerts.yml'))
  writeFileSync(join(dir, 'prometheus.yml'), checkable ?? '')
  const r = promtool('check', 'config', join(dir, 'prometheus.yml'))
  t.equal(r.status, 0, r.stdout + r.stderr)
  t.match(r.stdout, /SUCCESS: 11 rules found/)
  t.same(
    config.scrape_configs.map((j) => j.job_name),
    ['patroni', 'postgres', 'node'],
    'the job names the rules select on',
  )
})
