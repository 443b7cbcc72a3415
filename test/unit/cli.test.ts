// The command line: dispatch, --help and --version, check, usage errors.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { COMMANDS } from '../../cook/commands/index.js'
import { PARAM_NAMES, PARAMS } from '../../cook/params.js'
import { VERSION } from '../../cook/version.js'
import { basicEnv, cook, tempDir } from '../helpers.js'
import { standIns } from '../standins.js'

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const r = await cook(['--version'])
  t.equal(r.code, 0)
  t.equal(r.out, pkg.version)
  t.equal(VERSION, pkg.version)
})

t.test(
  '--help lists every subcommand with its own usage, and every parameter with its doc line',
  async (t) => {
    const r = await cook(['--help'])
    t.equal(r.code, 0)
    const flat = r.out.replace(/\s+/g, ' ')
    for (const [name, command] of Object.entries(COMMANDS)) {
      t.ok(flat.includes(` ${command.usage} `), `${name}: its usage line`)
      t.ok(flat.includes(` ${command.summary} `), `${name}: its summary`)
      const own = await cook([name, '--help'])
      t.equal(own.out, `${command.summary}\nusage: ${command.usage}`, `cook ${name} --help`)
    }
    t.match(flat, /cook render --root DIR \[--dry-run\] \[--owners apply\|record\]/, 'render --owners')
    for (const name of PARAM_NAMES)
      t.ok(
        r.out.split('\n').some((l) => l.startsWith(`  ${name} `) && l.includes(PARAMS[name].doc)),
        `parameter ${name}`,
      )
  },
)

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

t.test('a bare cook, as rc.d and pot.cmd run it, is the start (cook run)', async (t) => {
  const root = tempDir(t)
  const s = standIns(tempDir(t))
  // Invalid parameters end the start before any command: enough to see which command ran.
  const r = await cook(['--root', root, '--owners', 'record'], {
    ...basicEnv(),
    NODENAME: 'x y',
    PATH: s.env.PATH,
  })
  t.equal(r.code, 78)
  t.match(readFileSync(join(root, 'var/log/cook.log'), 'utf8'), /error: NODENAME: "x y" is not a DNS label/)
  const bad = await cook(['--bogus-option'])
  t.equal(bad.code, 64)
  t.match(bad.err, /^usage: cook run \[--nomad\]/m)
})

t.test('NAME=value without a subcommand is a usage error that names the subcommands', async (t) => {
  const root = tempDir(t)
  const s = standIns(tempDir(t))
  for (const argv of [['TTL=40'], ['--root', root, 'TTL=40']]) {
    const r = await cook(argv, { ...basicEnv(), PATH: s.env.PATH })
    t.equal(r.code, 64, argv.join(' '))
    t.match(r.err, /NAME=value arguments need a subcommand: `cook run NAME=value` starts the jail/)
    t.match(r.err, /`cook check NAME=value` validates them/)
  }
  t.same(s.calls(), [], 'no sysrc, no service: nothing was started or reloaded')
  t.same(readdirSync(root), [], 'nothing written, not even the log')
  const help = await cook(['--help'])
  t.match(help.out.replace(/\s+/g, ' '), /a bare `cook NAME=value` exits 64 and changes nothing/)
})
