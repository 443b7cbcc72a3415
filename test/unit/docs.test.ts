// The README's parameter table and pot.conf.example are generated from the schema: this fails when they
// drift (run `npm run docs`), and checks that what they show is what cook accepts.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { tlsFixture } from '../tls-fixture.js'
import type { ParamError } from '../../cook/errors.js'
import { isRequired, PARAM_NAMES, PARAMS, validate, type ParamName } from '../../cook/params.js'
import { parseEnvironmentSh, resolve } from '../../cook/sources.js'
import {
  DEVELOPMENT,
  paramTable,
  POT_CONF_EXAMPLE,
  potConfExample,
  README,
  withBenchTable,
  withParamTable,
} from '../../scripts/docs.js'

const readme = readFileSync(README, 'utf8')
const example = readFileSync(POT_CONF_EXAMPLE, 'utf8')
const development = readFileSync(DEVELOPMENT, 'utf8')

t.test('README.md: the parameter table is the generated one (npm run docs)', async (t) => {
  t.equal(readme, withParamTable(readme))
  t.equal(paramTable().split('\n').length, PARAM_NAMES.length + 2, 'a header, a rule, one row each')
  t.match(paramTable(), /^\| `MYIP` \(alias `IP`\) \| yes \|/m)
  t.match(paramTable(), /^\| `KEKPASS` \| yes \| {2}\| yes, or `KEKPASS_B64` \|/m)
  t.match(paramTable(), /^\| `TTL` \| no \| 30 \| no \|/m)
})

t.test('README.md: the Parameters section says how to pass values safely', async (t) => {
  const section = readme.slice(
    readme.indexOf('## Parameters'),
    readme.indexOf('\n## ', readme.indexOf('## Parameters') + 1),
  )
  t.match(section, /### Getting values into the jail safely/)
  for (const words of [
    /NAME_B64/,
    /--env-file/,
    /`\$`, backticks and `\\`/,
    /Line breaks cannot pass/,
    /never\s+as the `postgres` superuser/,
  ])
    t.match(section, words)
  const b64 = /`printf %s '([^']+)' \| base64` gives `([^`]+)`/.exec(section)
  t.equal(Buffer.from(b64?.[2] ?? '', 'base64').toString(), b64?.[1], 'the base64 example is right')
})

t.test('pot.conf.example is the generated one (npm run docs)', async (t) => {
  t.equal(example, potConfExample())
  t.match(example, /^pot\.cmd=sh \/etc\/rc$/m)
  t.match(example, /^network_type=public-bridge$/m)
  t.match(example, /^pot\.attr\.no-rc-script=NO$/m)
  t.notMatch(example, /^pot\.env=/m, 'no parameter is set: an image has no defaults for them')
})

t.test(
  'pot.conf.example: its pot.env lines, as pot hands them to the jail, are a valid configuration',
  async (t) => {
    // pot start: grep '^pot.env=' pot.conf | sed 's/^pot.env=/export /' > environment.sh
    const environmentSh = example
      .split('\n')
      .filter((l) => l.startsWith('# pot.env='))
      .map((l) => l.replace(/^# pot\.env=/, 'export '))
      // A standby cluster's parameters: the examples describe a master member. SECRETSFILE names a file of
      // the jail (the Nomad job's template), which this machine does not have.
      .filter((l) => !/(STANDBY(HOST|STANZA)|SECRETSFILE)=/.test(l))
      .join('\n')
    const parsed = parseEnvironmentSh(environmentSh)
    t.same(parsed.problems, [])
    t.equal(parsed.vars.CONSULSERVERS, '"10.0.0.2", "10.0.0.3", "10.0.0.4"', 'the seed form survives pot')
    const r = resolve({ env: parsed.vars })
    t.same(r.problems, [])
    // The certificate examples are paths in the jail: a root where they hold the typical member's files.
    const tls = tlsFixture(t)
    // Every password's example is refused on purpose (a copied example is no secret): with real values for
    // those, the examples together validate.
    const refused = (() => {
      try {
        validate(r.raw, { allowLoopback: false, root: tls.root })
        return []
      } catch (e) {
        return (e as ParamError).problems.map((p) => p.name)
      }
    })()
    const passwords = ['ADMPASS', 'KEKPASS', 'REPPASS', 'REWINDPASS', 'METRICSPASS', 'MONPASS']
    passwords.push('BACKUPCIPHERPASS', 'RESTPASS')
    t.same(refused.sort(), passwords.sort(), 'every copied password is refused')
    const secrets = Object.fromEntries(
      passwords.map((n) => [n, `a-real-${n.toLowerCase()}-secret-of-40-characters`]),
    )
    t.doesNotThrow(
      () => validate({ ...r.raw, ...secrets }, { allowLoopback: false, root: tls.root }),
      'the examples together validate',
    )
  },
)

t.test('the documented conditions are the ones the schema applies', async (t) => {
  for (const name of PARAM_NAMES) {
    const spec = PARAMS[name]
    if (spec.required === true || spec.required === undefined) {
      t.equal(spec.requiredDoc, undefined, `${name}: no condition documented`)
      continue
    }
    // "with KEY=value" or "with KEY other than value"; "unless OTHER is given" or "unless OTHER=value".
    const m =
      /^with ([A-Z0-9]+)(=| other than )([a-z0-9-]+(?::\/\/\.\.\.)?)(, the default)?(?:, unless ([A-Z]+)(?: is given|=([a-z0-9-]+)))?$/.exec(
        spec.requiredDoc ?? '',
      )
    t.ok(m, `${name}: the condition is documented`)
    const [, key = '', how = '', named = '', isDefault, unless, unlessValue] = m ?? []
    const [value, otherwise] = how === '=' ? [named, 'something-else'] : ['/something-else', named]
    t.ok(isRequired(name, { [key as ParamName]: value }), `${name} is required with ${key}=${value}`)
    if (unless)
      t.notOk(
        isRequired(name, { [key as ParamName]: value, [unless as ParamName]: unlessValue ?? 'x' }),
        `${name} is not required when ${unless} is ${unlessValue ?? 'given'}`,
      )
    t.notOk(isRequired(name, { [key as ParamName]: otherwise }), `${name} is not required otherwise`)
    t.equal(isRequired(name, {}), isDefault !== undefined, `${name}: without ${key}`)
  }
})

t.test('DEVELOPMENT.md holds the Performance table npm run bench writes, the README links it', async (t) => {
  t.notMatch(readme, /bench:begin/, 'the README has no bench table of its own')
  t.match(readme, /\]\(DEVELOPMENT\.md\)/)
  const section = development.slice(development.indexOf('## Performance'))
  t.match(section, /<!-- bench:begin -->\n\| figure \| median \| min–max \(runs\) \| target \|/)
  // The table is the last run's: every figure of bench/results.json has its row.
  const results = JSON.parse(readFileSync(new URL('../../bench/results.json', import.meta.url), 'utf8')) as {
    figures: { name: string }[]
  }
  const rows = new Set([...section.matchAll(/^\| ([^|]+?) \|/gm)].map((m) => m[1]))
  for (const f of results.figures) t.ok(rows.has(f.name), `a row for ${f.name}`)
  // What the bench does to the document: only the block between the markers changes.
  const rewritten = withBenchTable(development, '| figure | new |')
  t.equal(
    rewritten.replace(/<!-- bench:begin -->[\s\S]*<!-- bench:end -->/, ''),
    development.replace(/<!-- bench:begin -->[\s\S]*<!-- bench:end -->/, ''),
  )
  t.match(rewritten, /<!-- bench:begin -->\n\| figure \| new \|\n<!-- bench:end -->/)
  t.throws(() => withBenchTable(readme, '| x |'), /markers/, 'a document without the markers is refused')
})

t.test('README.md: the operator finds the commands that inspect a member', async (t) => {
  for (const words of [
    /`cook render --root \/ --dry-run`/,
    /`service patroni configtest`/,
    /`service patroni list`/,
    /\/usr\/local\/etc\/newsyslog\.conf\.d\/cook\.conf/,
  ])
    t.match(readme, words)
  t.equal(readme.match(/^### Stopping the jail/gm)?.length, 1, 'the stop hook is told in one place')
  t.equal(readme.match(/pot set-attribute -p "\$POT" -A exec_stop/g)?.length, 1)
})
