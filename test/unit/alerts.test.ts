// The shipped alert rules: promtool accepts them, and monitoring/alerts.test.yml proves with `promtool test
// rules` that each alert fires on its failure and stays quiet next to it. To show those tests can fail, each
// rule is also replaced in turn by one that never fires and one that always fires: the suite must reject both.
import { spawnSync } from 'node:child_process'
import { copyFileSync, writeFileSync } from 'node:fs'
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
  const tests = parse((await import('node:fs')).readFileSync(ALERT_TESTS_FILE, 'utf8')) as RuleTests
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
