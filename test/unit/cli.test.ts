import t from 'tap'
import { basicEnv, cook } from '../helpers.js'
import { PARAM_NAMES } from '../../cook/params.js'
import { VERSION } from '../../cook/version.js'
import { readFileSync } from 'node:fs'

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const r = await cook(['--version'])
  t.equal(r.code, 0)
  t.equal(r.out, pkg.version)
  t.equal(VERSION, pkg.version)
})

t.test('--help lists every parameter of the schema', async (t) => {
  const r = await cook(['--help'])
  t.equal(r.code, 0)
  for (const name of PARAM_NAMES) t.match(r.out, new RegExp(`^  ${name} `, 'm'), name)
})

t.test('check prints resolved parameters with secrets redacted', async (t) => {
  const env = basicEnv()
  const r = await cook(['check'], env)
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^NODENAME\s+pg1\s+\(environment\)$/m)
  t.match(r.out, /^KEKPASS\s+<redacted>\s+\(environment\)$/m)
  t.match(r.out, /^REPPASS\s+<redacted>\s+\(default\)$/m)
  for (const secret of [env.KEKPASS, env.ADMPASS, env.GOSSIPKEY]) t.notMatch(r.out + r.err, secret!)
})

t.test('an unknown command is a usage error', async (t) => {
  const r = await cook(['frobnicate'])
  t.equal(r.code, 64)
  t.match(r.err, /unknown command "frobnicate"/)
})
