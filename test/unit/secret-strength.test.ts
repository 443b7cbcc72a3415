// Weak secrets are refused: KEKPASS and ADMPASS have a minimum length, and no value the documentation shows
// for a secret is accepted as either. The examples are collected from the files an operator copies from, so a
// new example in the docs is refused as soon as it is written (or this test names it).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ParamError } from '../../cook/errors.js'
import { EXAMPLE_SECRETS, SECRET_NAMES, validate } from '../../cook/params.js'
import { basicEnv } from '../helpers.js'

const REPO = new URL('../../', import.meta.url).pathname
const DOCS = ['README.md', 'pot.conf.example', ...readdirSync(join(REPO, 'nomad')).map((f) => `nomad/${f}`)]

/** NAME=value and NAME_B64=value (decoded) for every secret parameter, quoted or bare; HCL's NAME = "value". */
function examples(text: string): string[] {
  const names = SECRET_NAMES.filter((n) => n !== 'TLSKEY') // a PEM file or its path, never a password
  const assignment = new RegExp(
    `\\b(${names.join('|')})(_B64)?(?:=| = )('[^'\\n]*'|"[^"\\n]*"|[^\\s"'\`,;)]+)`,
    'g',
  )
  const found: string[] = []
  for (const m of text.matchAll(assignment)) {
    let value = m[3] ?? ''
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1)
    // A shell variable, a command substitution or a Nomad template shows no value.
    if (value === '' || /^(\$|\{\{)/.test(value)) continue
    if (m[2] === undefined) found.push(value)
    // `_B64=...` is a placeholder, not base64.
    else if (/^[A-Za-z0-9+/]+={0,2}$/.test(value)) found.push(Buffer.from(value, 'base64').toString('utf8'))
  }
  return found
}

const shown = [...new Set(DOCS.flatMap((f) => examples(readFileSync(join(REPO, f), 'utf8'))))].sort()

function refused(name: 'KEKPASS' | 'ADMPASS', value: string): boolean {
  try {
    validate({ ...basicEnv(), [name]: value })
    return false
  } catch (e) {
    if (!(e instanceof ParamError)) throw e
    return e.problems.some((p) => p.name === name)
  }
}

t.test('the documentation shows example secrets, and the collector finds them', async (t) => {
  t.ok(shown.includes('change-me'), `pot.conf.example's placeholder is found: ${JSON.stringify(shown)}`)
  t.ok(shown.includes('pa$$word'), "the README's pot set-env example, also in base64")
  t.ok(shown.length >= 5, 'several')
})

t.test('every example value a reader can copy is refused as KEKPASS and as ADMPASS', async (t) => {
  for (const value of shown) {
    t.ok(refused('KEKPASS', value), `KEKPASS=${JSON.stringify(value)} is refused`)
    t.ok(refused('ADMPASS', value), `ADMPASS=${JSON.stringify(value)} is refused`)
    // The length alone refuses the short ones; a longer one must be in the table, by name.
    t.ok(EXAMPLE_SECRETS.includes(value), `${JSON.stringify(value)} is in EXAMPLE_SECRETS (cook/checks.ts)`)
  }
})

t.test('the refusal names the reason and never the value', async (t) => {
  for (const [name, value, why] of [
    ['KEKPASS', 'cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc=', /an example value from the documentation/],
    ['KEKPASS', 'fifteen-chars!!', /has 15 characters; want at least 16/],
    ['ADMPASS', 'fourteen-chars', /has 14 characters; want at least 15/],
  ] as const) {
    try {
      validate({ ...basicEnv(), [name]: value })
      t.fail(`${name} accepted`)
    } catch (e) {
      const message = (e as ParamError).problems.find((p) => p.name === name)?.message ?? ''
      t.match(message, why)
      t.notMatch(message, value)
    }
  }
  t.doesNotThrow(() => validate({ ...basicEnv(), KEKPASS: 'sixteen-chars!!!', ADMPASS: 'fifteen-chars!!' }))
})
