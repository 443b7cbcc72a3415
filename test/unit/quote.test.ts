// Each quoting helper, checked by the program that reads its format: /bin/sh, PyYAML and the yaml library,
// an HCL parser, JSON.parse. (sql is checked against PostgreSQL itself in postgres.test.ts.)
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { hcl, hcl1, json, sh, sql, yaml } from '../../cook/quote.js'
import { hcl2json, HOSTILE, label, LINE_BREAKS, pyyaml, yaml11 } from '../hostile.js'

const ALL = [...HOSTILE, ...LINE_BREAKS]

t.test('sh: /bin/sh reads back every value, one word each', async (t) => {
  const script = `printf '%s\\0' ${ALL.map(sh).join(' ')}`
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.same(r.stdout.split('\0').slice(0, -1), ALL)
  t.equal(sh("it's"), `'it'\\''s'`, 'a quote closes, is escaped, and reopens')
  t.equal(sh(5432), `'5432'`)
})

t.test('yaml: PyYAML and the yaml library (1.1) read back every value as a string', async (t) => {
  const docs = ALL.map((v) => `key: ${yaml(v)}\nlist:\n  - ${yaml(v)}\n`)
  const parsed = pyyaml(docs)
  ALL.forEach((v, i) => {
    t.same(parsed[i], { key: v, list: [v] }, `PyYAML: ${label(v)}`)
    t.same(yaml11(docs[i] ?? ''), { key: v, list: [v] }, `yaml 1.1: ${label(v)}`)
  })
  const typed = pyyaml([`n: ${yaml(15)}\nb: ${yaml(false)}\ns: ${yaml('15s')}\nl: ${yaml(['a', 'on'])}\n`])
  t.same(typed[0], { n: 15, b: false, s: '15s', l: ['a', 'on'] }, 'numbers and booleans keep their type')
})

t.test('hcl1 (Consul): the HCL parser reads back every value it accepts', async (t) => {
  const accepted = ALL.filter((v) => !/[$%]\{/.test(v))
  for (const v of ALL.filter((v) => !accepted.includes(v)))
    t.throws(() => hcl1(v), /cannot be written in an HCL 1 string/, `refuses ${label(v)}`)
  const doc = accepted.map((v, i) => `k${i} = ${hcl1(v)}\nl${i} = ${hcl1([v, 'x'])}\n`).join('')
  const parsed = await hcl2json(doc)
  accepted.forEach((v, i) => t.same([parsed[`k${i}`], parsed[`l${i}`]], [v, [v, 'x']], label(v)))
  t.equal(hcl1(8500), '8500')
  t.equal(hcl1(true), 'true')
})

t.test('hcl (HCL 2, Nomad): every value parses; interpolation stays escaped', async (t) => {
  const parsed = await hcl2json(ALL.map((v, i) => `k${i} = ${hcl(v)}\n`).join(''))
  // hcl2json prints template strings back in HCL's own escaped form, so `$${` is what a literal `${` looks like.
  ALL.forEach((v, i) => t.equal(parsed[`k${i}`], v.replace(/([$%])\{/g, '$1$1{'), label(v)))
  t.equal(hcl('${x}'), '"$${x}"', 'a literal ${ is written $${')
  t.equal(hcl('%{x}'), '"%%{x}"')
  t.equal(hcl('\\b'), '"\\\\b"', 'a backslash before b is not a backspace')
  t.equal(hcl('\b\f'), '"\\u0008\\u000c"', 'HCL has no \\b or \\f escape')
})

t.test('json: JSON.parse reads back every value', async (t) => {
  for (const v of ALL) t.equal(JSON.parse(json(v)), v)
  t.same(JSON.parse(json({ a: [1, 'b'] })), { a: [1, 'b'] })
})

t.test('sql: quotes are doubled, a NUL is refused', async (t) => {
  t.equal(sql("it's"), "'it''s'")
  t.equal(sql('back\\slash'), "'back\\slash'", 'standard_conforming_strings: a backslash is literal')
  t.throws(() => sql('a\0b'), /NUL/)
  t.throws(() => sh('a\0b'), /NUL/, 'nor in a shell word')
})

t.test('a missing value is an error in every helper, never an empty string', async (t) => {
  for (const [name, fn] of Object.entries({ sh, json, yaml, hcl, hcl1, sql })) {
    t.throws(() => fn(undefined), /value is missing/, `${name}(undefined)`)
    t.throws(() => fn(null), /value is missing/, `${name}(null)`)
  }
  t.throws(() => sh({}), /wants a string or number/)
  t.throws(() => sql(['a']), /wants a string or number/)
})
