// The bundle (precompiled templates on Handlebars' runtime) must write the same bytes as the source tree
// (templates compiled from templates/ at run time), with the same modes.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { validate } from '../../cook/params.js'
import { verifierIn } from '../../cook/prior.js'
import { scramMatches } from '../../cook/secrets.js'
import { basicEnv, cook, tempDir } from '../helpers.js'

function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name)
      const mode = (statSync(full).mode & 0o7777).toString(8)
      if (e.isDirectory()) {
        out[`${relative(root, full)}/`] = mode
        walk(full)
      } else out[relative(root, full)] = `${mode}\n${readFileSync(full, 'utf8')}`
    }
  }
  walk(root)
  return out
}

t.test('the bundle renders exactly what the source tree renders', async (t) => {
  const dir = tempDir(t)
  // The real build, as `npm run build` runs it: its one output is the image's dist/cook.mjs.
  execFileSync(process.execPath, ['scripts/bundle.mjs'])
  const bundle = 'dist/cook.mjs'
  const env = basicEnv()
  const args = Object.entries(env).map(([k, v]) => `${k}=${v}`)

  const fromSource = join(dir, 'source')
  const r = await cook(['render', '--root', fromSource, '--owners', 'record', ...args])
  t.equal(r.code, 0, r.err)

  const fromBundle = join(dir, 'bundle')
  execFileSync(process.execPath, [
    bundle,
    'render',
    '--root',
    fromBundle,
    '--owners',
    'record',
    '--environment-sh',
    '/nonexistent',
    ...args,
  ])
  // The role files' SCRAM verifiers have random salts: compared without them, then proven.
  const masked = (root: string) =>
    Object.fromEntries(
      Object.entries(tree(root)).map(([k, v]) => [k, v.replace(/SCRAM-SHA-256\$[^']+/g, 'VERIFIER')]),
    )
  t.same(masked(fromBundle), masked(fromSource))
  t.ok(Object.keys(tree(fromSource)).length > 5, 'the comparison covers the rendered files')
  const p = validate(env)
  const verifier = (root: string) =>
    verifierIn(readFileSync(join(root, 'usr/local/etc/patroni/admin-role.sql'), 'utf8')) ?? ''
  t.ok(scramMatches(verifier(fromBundle), p.ADMPASS), "the bundle's verifier proves ADMPASS")
  // The bundle keeps a verifier that proves the password: rendering into the source's root changes nothing.
  const before = tree(fromSource)
  execFileSync(process.execPath, [
    bundle,
    'render',
    '--root',
    fromSource,
    '--owners',
    'record',
    '--environment-sh',
    '/nonexistent',
    ...args,
  ])
  t.same(tree(fromSource), before, 'a re-render by the bundle writes the same bytes')

  const version = execFileSync(process.execPath, [bundle, '--version'], { encoding: 'utf8' }).trim()
  t.equal(version, JSON.parse(readFileSync('package.json', 'utf8')).version)
})
