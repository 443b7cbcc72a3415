// Weak secrets are refused: every password parameter (KEKPASS, ADMPASS, the roles' and the REST API's, the
// metrics', the backup cipher's) has a minimum length, and no value the documentation shows
// for a secret is accepted as either. The examples are collected from the files an operator copies from, so a
// new example in the docs is refused as soon as it is written (or this test names it).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ParamError } from '../../cook/errors.js'
import { MIN_CIPHER_PASS } from '../../cook/backup.js'
import {
  EXAMPLE_SECRETS,
  MIN_ADMPASS,
  MIN_KEKPASS,
  SECRET_NAMES,
  validate,
  type ParamName,
} from '../../cook/params.js'
import { basicEnv } from '../helpers.js'

const REPO = new URL('../../', import.meta.url).pathname
const DOCS = ['README.md', 'pot.conf.example', ...readdirSync(join(REPO, 'nomad')).map((f) => `nomad/${f}`)]

/** NAME=value and NAME_B64=value (decoded) for every secret parameter, quoted or bare; HCL's NAME = "value". */
function examples(text: string): string[] {
  const names = SECRET_NAMES.filter((n) => n !== 'TLSKEY') // a PEM file or its path, never a password
  const assignment = new RegExp(
    `(?<!")\\b(${names.join('|')})(_B64)?(?:=| = )('[^'\\n]*'|"[^"\\n]*"|[^\\s"'\`,;)]+)`,
    'g',
  )
  // pot.conf's and pot set-env's form: the quotes hold the whole NAME=value, blanks included.
  const quoted = new RegExp(`"(${names.join('|')})(_B64)?=([^"\\n]*)"`, 'g')
  const found: string[] = []
  for (const m of [...text.matchAll(assignment), ...text.matchAll(quoted)]) {
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

/**
 * Every secret password: each secret named *PASS but OLDKEKPASS (the password the running cluster still has,
 * whatever it is), with its minimum length. A new one is found by name and must be given a minimum here.
 */
const MIN: Partial<Record<ParamName, number>> = {
  KEKPASS: MIN_KEKPASS,
  ADMPASS: MIN_ADMPASS,
  REPPASS: MIN_KEKPASS,
  REWINDPASS: MIN_KEKPASS,
  RESTPASS: MIN_KEKPASS,
  MONPASS: MIN_KEKPASS,
  METRICSPASS: MIN_KEKPASS,
  BACKUPCIPHERPASS: MIN_CIPHER_PASS,
}
const PASSWORDS = SECRET_NAMES.filter((n) => n.endsWith('PASS') && n !== 'OLDKEKPASS')
/** What BACKUPCIPHERPASS needs beside it to be taken at all. */
const WITH: Partial<Record<ParamName, Record<string, string>>> = {
  BACKUPCIPHERPASS: { BACKUPREPO: '/var/db/pgbackrest', BACKUPCIPHER: 'aes-256-cbc' },
}

function refused(name: ParamName, value: string): boolean {
  try {
    validate({ ...basicEnv(), ...WITH[name], [name]: value })
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

t.test('every secret password has a minimum length', async (t) => {
  t.same(PASSWORDS.slice().sort(), Object.keys(MIN).sort(), 'each password parameter has its minimum here')
  for (const name of PASSWORDS) {
    const min = MIN[name] ?? 0
    t.ok(min >= 15, `${name}: at least 15 characters`)
    t.notOk(refused(name, 'x'.repeat(min - 8) + 'A1b2C3d4'), `${name}: ${min} characters are taken`)
    t.ok(refused(name, 'x'.repeat(min - 9) + 'A1b2C3d4'), `${name}: ${min - 1} characters are refused`)
  }
})

t.test('every example value a reader can copy is refused as every secret password', async (t) => {
  for (const value of shown) {
    for (const name of PASSWORDS) t.ok(refused(name, value), `${name}=${JSON.stringify(value)} is refused`)
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
