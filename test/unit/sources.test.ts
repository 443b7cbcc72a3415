// The four parameter sources: pot's environment.sh, --env-file, the process environment, NAME=value arguments.
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { environmentShPath, isNomadMode, loadConfig } from '../../cook/config.js'
import { ParamError } from '../../cook/errors.js'
import { parseArgs, parseEnvironmentSh, resolve } from '../../cook/sources.js'
import { basicEnv, tempDir } from '../helpers.js'
import { HOSTILE, label, LINE_BREAKS } from '../hostile.js'

/**
 * Stand-in for pot (FreeBSD only): `pot set-env -E ...` followed by `pot start`, re-enacted with the same
 * sed and grep commands pot runs (share/pot/set-env.sh, share/pot/start.sh _js_env). pot uses FreeBSD sh's
 * `echo`, which leaves backslashes alone; dash's echo would not, so the stand-in uses printf instead.
 */
const POT_SET_ENV_AND_START = `
set -eu
tmp=$(mktemp) conf=$(mktemp)
printf '%s\\n' 'pot.cmd=sh /etc/rc' 'pot.env="OLD=replaced"' > "$conf"
for arg in "$@"; do
  _tmp="$(printf '%s\\n' "$arg" | sed 's%"%\\\\"%g')"
  printf '%s\\n' "\\"$_tmp\\"" >> "$tmp"
done
sed -i -e '/^pot.env=.*/d' "$conf"
sed 's/.*/pot.env=&/g' "$tmp" >> "$conf"
grep '^pot.env=' "$conf" | sed 's/^pot.env=/export /g'
printf '%s\\n' 'export _POT_NAME=pg1' 'export _POT_IP=10.0.0.11'
rm -f "$tmp" "$conf"
`

function potEnvironmentSh(vars: [string, string][]): string {
  const r = spawnSync('/bin/sh', ['-c', POT_SET_ENV_AND_START, 'pot', ...vars.map(([k, v]) => `${k}=${v}`)], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(r.stderr)
  return r.stdout
}

const names = (problems: { name: string }[]) => problems.map((p) => p.name).sort()

t.test('environment.sh: the lines pot writes', async (t) => {
  const text = [
    'export "NODENAME=pg1"',
    'export "KEKPASS=say \\"hi\\" to $HOME `id` \\\\n"',
    'export "CONSULSERVERS=\\"10.0.0.2\\", \\"10.0.0.3\\", \\"10.0.0.4\\""',
    'export "EMPTY="',
    'export _POT_NAME=pg1',
    'export _POT_IP_LIST=_POT_IP_0\\ _POT_IP_1',
    '',
  ].join('\n')
  const { vars, problems } = parseEnvironmentSh(text)
  t.same(problems, [])
  t.same(vars, {
    NODENAME: 'pg1',
    KEKPASS: 'say "hi" to $HOME `id` \\\\n',
    CONSULSERVERS: '"10.0.0.2", "10.0.0.3", "10.0.0.4"',
    EMPTY: '',
  })
})

t.test('environment.sh written by the pot stand-in: every hostile value arrives exactly', async (t) => {
  // A trailing backslash cannot pass (see below); \r, U+2028 and U+2029 stay on their line.
  const values = [...HOSTILE, ...LINE_BREAKS].filter((v) => !v.includes('\n') && !v.endsWith('\\'))
  const vars: [string, string][] = values.map((v, i) => [`V${i}`, v])
  vars.push(['ADMPASS', 'pa$$word'], ['MYIP', '10.0.0.11'])
  const parsed = parseEnvironmentSh(potEnvironmentSh(vars))
  t.same(parsed.problems, [])
  t.notOk('OLD' in parsed.vars, 'set-env replaced the earlier pot.env lines')
  for (const [k, v] of vars) t.equal(parsed.vars[k], v, `${k} ${label(v)}`)
})

t.test('environment.sh: a value pot broke across lines is reported, not guessed at', async (t) => {
  for (const v of LINE_BREAKS.filter((v) => /\n./.test(v))) {
    const text = potEnvironmentSh([
      ['ADMPASS', v],
      ['NODENAME', 'pg1'],
    ])
    t.match(text, /^export [^"]/m, `pot prefixed a continuation line with export: ${label(v)}`)
    const parsed = parseEnvironmentSh(text)
    t.same(names(parsed.problems), ['ADMPASS'], label(v))
    t.match(parsed.problems[0]?.message, /line break.*ADMPASS_B64/)
    t.notOk('ADMPASS' in parsed.vars)
    t.equal(parsed.vars.NODENAME, 'pg1', 'the other variables still arrive')
  }
  const b64 = parseEnvironmentSh('export "KEKPASS_B64=abc\nexport def"\n')
  t.same(names(b64.problems), ['KEKPASS'], 'reported under the parameter name')
  const trailing = parseEnvironmentSh(potEnvironmentSh([['KEKPASS', 'ends in a backslash\\']]))
  t.same(names(trailing.problems), ['KEKPASS'], 'a trailing backslash looks the same as a broken line')
  const other = parseEnvironmentSh(potEnvironmentSh([['NOT_OURS', 'a\nb']]))
  t.same(other.problems, [], 'only parameters are reported')
})

t.test('environment.sh: $, backticks and backslashes arrive literally, with a warning', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'environment.sh')
  writeFileSync(
    file,
    potEnvironmentSh([
      ['KEKPASS', 'pa$$word`x`\\n'],
      ['NODENAME', 'pg1'],
    ]),
    { mode: 0o600 },
  )
  const r = resolve({ environmentSh: file })
  t.equal(r.raw.KEKPASS, 'pa$$word`x`\\n')
  t.equal(r.warnings.length, 1)
  t.match(r.warnings[0], /^KEKPASS: .*KEKPASS_B64/)
  t.notMatch(r.warnings[0], 'pa$$word', 'the warning does not show the value')
})

t.test('environment.sh: missing is fine, anything but a regular file is ignored', async (t) => {
  const dir = tempDir(t)
  t.same(resolve({ environmentSh: join(dir, 'absent.sh') }).problems, [])
  mkdirSync(join(dir, 'a-directory'))
  const r = resolve({ environmentSh: join(dir, 'a-directory') })
  t.same(r.problems, [])
  t.match(r.warnings, [/a-directory: ignored, it is not a regular file/])
})

t.test('environment.sh planted by a jail user in /tmp: ignored with a warning, never a stop', async (t) => {
  const dir = tempDir(t)
  const widen = 'export "MEMBERNETS=0.0.0.0/1 128.0.0.0/1"\nexport "ALLOWWIDENETS=on"\n'
  const planted = (name: string, text: string, mode: number, uid = 0) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    chmodSync(path, mode)
    chownSync(path, uid, uid)
    return path
  }
  const cases: [string, string, RegExp][] = [
    [planted('nobody.sh', widen, 0o600, 65534), 'owned by nobody', /owned by uid 65534, not root/],
    [planted('open.sh', widen, 0o644), 'root, 0644', /mode 0644/],
    [
      planted('secret.sh', 'export "KEKPASS=planted-secret-1"\n', 0o644, 65534),
      'a secret in it',
      /uid 65534/,
    ],
    [
      planted('broken.sh', 'export "ADMPASS=no closing quote\n', 0o666),
      'a line pot could not write',
      /mode 0666/,
    ],
  ]
  symlinkSync(join(dir, 'open.sh'), join(dir, 'link.sh'))
  cases.push([join(dir, 'link.sh'), 'a symbolic link', /symbolic link/])
  spawnSync('mkfifo', [join(dir, 'fifo.sh')])
  cases.push([join(dir, 'fifo.sh'), 'a FIFO', /not a regular file/])
  for (const [path, what, why] of cases) {
    const r = resolve({ environmentSh: path })
    t.same(r.problems, [], `${what}: the cook is not stopped`)
    t.same(r.raw, {}, `${what}: nothing of it is taken`)
    t.equal(r.warnings.length, 1, `${what}: one warning`)
    t.match(r.warnings[0], why, `${what}: it says why`)
    t.ok(r.warnings[0]?.startsWith(`${path}: ignored`), `${what}: and names the file`)
    t.notMatch(r.warnings[0], /0\.0\.0\.0|planted-secret|closing quote/, `${what}: never its content`)
  }
  const root = planted('root.sh', widen, 0o600)
  t.same(
    resolve({ environmentSh: root }).raw.ALLOWWIDENETS,
    'on',
    "root's 0600 file (what pot writes) is read",
  )
})

t.test('Nomad mode never reads /tmp/environment.sh', async (t) => {
  t.equal(environmentShPath({ nomad: true }), undefined, 'Nomad mode: none')
  t.equal(environmentShPath({}), '/tmp/environment.sh', "a jail with rc scripts: pot's")
  t.equal(environmentShPath({ nomad: true, environmentSh: '/x.sh' }), '/x.sh', 'an explicit one is read')
  t.equal(
    environmentShPath({ nomad: isNomadMode({}, { NOMAD_ALLOC_ID: 'a1' }) }),
    undefined,
    'NOMAD_ALLOC_ID',
  )
  t.equal(environmentShPath({ nomad: isNomadMode({ nomad: true }, {}) }), undefined, '--nomad')
})

t.test('--env-file: dotenv syntax; unknown names are errors', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'cook.env')
  writeFileSync(
    file,
    [
      '# secrets for pg1',
      'export NODENAME=pg1',
      `KEKPASS='single $quoted "value" # not a comment'`,
      'ADMPASS="two\\nlines"',
      `CONSULSERVERS='"10.0.0.2", "10.0.0.3", "10.0.0.4"'`,
      'SCOPE=orders # a comment',
      'KEKPAS=typo',
      'FOO=bar',
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  const r = resolve({ envFile: file })
  t.equal(r.raw.NODENAME, 'pg1')
  t.equal(r.raw.KEKPASS, 'single $quoted "value" # not a comment')
  t.equal(r.raw.ADMPASS, 'two\nlines')
  t.equal(r.raw.CONSULSERVERS, '"10.0.0.2", "10.0.0.3", "10.0.0.4"')
  t.equal(r.raw.SCOPE, 'orders')
  t.same(names(r.problems), ['FOO', 'KEKPAS'])
  t.match(r.problems.find((p) => p.name === 'KEKPAS')?.message, /did you mean KEKPASS\?/)
  t.notMatch(JSON.stringify(r.problems), 'typo', 'values of unknown names are not shown')
  t.same(names(resolve({ envFile: join(dir, 'absent.env') }).problems), ['--env-file'])
})

t.test('process environment: only schema names are read, the rest is ignored', async (t) => {
  const r = resolve({
    env: { PATH: '/bin', NOMAD_TASK_NAME: 'pg', HOME: '/root', NODENAME: 'pg1', KEKPAS: 'x' },
  })
  t.same(r.problems, [])
  t.same(r.raw, { NODENAME: 'pg1' })
})

t.test('arguments: NAME=value only; nothing else is echoed', async (t) => {
  const ok = parseArgs(['NODENAME=pg1', 'KEKPASS=a=b=c', 'ADMPASS='])
  t.same(ok.vars, { NODENAME: 'pg1', KEKPASS: 'a=b=c', ADMPASS: '' })
  const bad = parseArgs(['hunter2', 'KEKPASS', '=secret2', 'two words'])
  t.same(names(bad.problems), ['KEKPASS', 'argument 1', 'argument 3', 'argument 4'])
  t.notMatch(JSON.stringify(bad.problems), /hunter2|secret2|two words/)
  const unknown = resolve({ args: ['FOO=1', 'pass word=secret3', 'IP_B64=MTAuMC4wLjEx'] })
  t.same(names(unknown.problems), ['FOO', 'IP_B64', 'a name in the arguments'])
  t.notMatch(JSON.stringify(unknown.problems), /secret3|pass word/)
})

t.test('a secret given as an argument is taken, with a warning that argv is public', async (t) => {
  const r = resolve({ args: ['KEKPASS=argv-secret', 'NODENAME=pg1'] })
  t.equal(r.raw.KEKPASS, 'argv-secret')
  t.same(r.warnings.length, 1)
  t.match(r.warnings[0], /^KEKPASS: given as an argument/)
  t.notMatch(r.warnings[0], 'argv-secret')
})

t.test("a file that gives a secret must be root's alone: owned by root, 0600", async (t) => {
  const dir = tempDir(t)
  const file = (name: string, text: string, mode: number) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    chmodSync(path, mode)
    return path
  }
  const secret = 'KEKPASS=kek-1\nNODENAME=pg1\n'
  const open = file('open.env', secret, 0o644)
  const r = resolve({ envFile: open })
  t.same(names(r.problems), [open], 'a 0644 --env-file with a secret is refused')
  t.match(r.problems[0]?.message, /mode 0644.*gives KEKPASS/)
  t.notMatch(r.problems[0]?.message, 'kek-1', 'without the value')
  t.equal(r.raw.KEKPASS, undefined, 'and nothing of it is taken')
  t.same(resolve({ envFile: file('group.env', secret, 0o640) }).problems.length, 1, '0640 too')
  t.same(resolve({ envFile: file('private.env', secret, 0o600) }).problems, [], '0600 is read')
  t.same(resolve({ envFile: file('plain.env', 'NODENAME=pg1\n', 0o644) }).problems, [], 'no secret: any mode')
  const sh = file('environment.sh', 'export "ADMPASS_B64=YQ=="\n', 0o644)
  t.same(resolve({ environmentSh: sh }).raw, {}, "pot's environment.sh is held to the same rule (ignored)")
  chownSync(join(dir, 'private.env'), 65534, 65534)
  t.match(resolve({ envFile: join(dir, 'private.env') }).problems[0]?.message, /owned by uid 65534, not root/)
  symlinkSync(join(dir, 'open.env'), join(dir, 'link.env'))
  t.match(resolve({ envFile: join(dir, 'link.env') }).problems[0]?.message, /symbolic link/)
})

t.test('SECRETSFILE: a 0600 file of secrets named by another source', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'cook.env')
  writeFileSync(path, `KEKPASS_B64=${Buffer.from('k$`\\"').toString('base64')}\n`, { mode: 0o600 })
  const r = resolve({ env: { NODENAME: 'pg1', SECRETSFILE: path } })
  t.same(r.problems, [])
  t.equal(r.raw.KEKPASS, 'k$`\\"')
  t.equal(r.from.KEKPASS, 'secrets-file')
  chmodSync(path, 0o644)
  t.same(names(resolve({ env: { SECRETSFILE: path } }).problems), [`SECRETSFILE (${path})`], '0644: refused')
  writeFileSync(join(dir, 'plain.env'), 'NODENAME=pg1\n', { mode: 0o644 })
  t.equal(
    resolve({ env: { SECRETSFILE: join(dir, 'plain.env') } }).problems.length,
    1,
    'the secrets file is held to the rule even without a secret in it',
  )
  t.same(names(resolve({ env: { SECRETSFILE: join(dir, 'absent.env') } }).problems), ['SECRETSFILE'])
})

t.test('a Nomad task takes no secret from its environment', async (t) => {
  const env = { NOMAD_ALLOC_ID: 'a1', NODENAME: 'pg1', KEKPASS: 'kek-1', ADMPASS_B64: 'YQ==' }
  const r = resolve({ env })
  t.same(names(r.problems).sort(), ['ADMPASS', 'KEKPASS'])
  t.notMatch(r.problems.map((p) => p.message).join('\n'), 'kek-1')
  t.same(
    resolve({ env: { ...env, NOMAD_ALLOC_ID: undefined } }).problems,
    [],
    "outside Nomad it is the caller's choice",
  )
})

t.test('precedence: arguments > environment > --env-file > environment.sh', async (t) => {
  const dir = tempDir(t)
  const envSh = join(dir, 'environment.sh')
  const envFile = join(dir, 'cook.env')
  writeFileSync(
    envSh,
    'export "NODENAME=from-sh"\nexport "SCOPE=sh"\nexport "DATACENTER=sh"\nexport "TTL=40"\n',
    { mode: 0o600 },
  )
  writeFileSync(envFile, 'NODENAME=from-file\nSCOPE=file\nDATACENTER=file\n')
  const env = { NODENAME: 'from-env', SCOPE: 'env' }
  const r = resolve({ environmentSh: envSh, envFile, env, args: ['NODENAME=from-args'] })
  t.same(r.problems, [])
  t.same([r.raw.NODENAME, r.raw.SCOPE, r.raw.DATACENTER, r.raw.TTL], ['from-args', 'env', 'file', '40'])
  t.same(
    [r.from.NODENAME, r.from.SCOPE, r.from.DATACENTER, r.from.TTL],
    ['arguments', 'environment', 'env-file', 'environment.sh'],
  )
})

t.test('aliases: IP is MYIP; both in one source is an error, across sources the higher wins', async (t) => {
  t.equal(resolve({ env: { IP: '10.0.0.12' } }).raw.MYIP, '10.0.0.12')
  const both = resolve({ env: { IP: '10.0.0.12', MYIP: '10.0.0.13' } })
  t.same(names(both.problems), ['MYIP'])
  t.match(both.problems[0]?.message, /given twice/)
  const layered = resolve({ env: { IP: '10.0.0.12' }, args: ['MYIP=10.0.0.13'] })
  t.same(layered.problems, [])
  t.equal(layered.raw.MYIP, '10.0.0.13')
})

t.test('NAME_B64: any secret in base64, the safe way through pot and Nomad', async (t) => {
  const hostile = 'pa$$ `word` "\\\n\t😀'
  const r = resolve({ env: { ADMPASS_B64: Buffer.from(hostile).toString('base64') } })
  t.same(r.problems, [])
  t.equal(r.raw.ADMPASS, hostile)
  t.equal(r.from.ADMPASS, 'environment')
  const wrapped = Buffer.from('kek').toString('base64') + '\n'
  t.equal(resolve({ args: [`KEKPASS_B64=${wrapped}`] }).raw.KEKPASS, 'kek', 'white space is ignored')
  t.same(names(resolve({ env: { KEKPASS_B64: 'not base64!' } }).problems), ['KEKPASS'])
  const latin1 = Buffer.from([0x70, 0xe4, 0x73, 0x73]).toString('base64')
  t.same(names(resolve({ env: { KEKPASS_B64: latin1 } }).problems), ['KEKPASS'], 'must be UTF-8')
  t.same(names(resolve({ env: { KEKPASS_B64: 'a2Vr', KEKPASS: 'kek' } }).problems), ['KEKPASS'], 'twice')
  t.equal(
    resolve({ env: { KEKPASS_B64: 'YQ==' }, args: ['KEKPASS=b'] }).raw.KEKPASS,
    'b',
    'higher source wins',
  )
  t.equal(resolve({ env: { GOSSIPKEY_B64: Buffer.from('k').toString('base64') } }).raw.GOSSIPKEY, 'k')
})

t.test('loadConfig: problems from the sources and the schema come together', async (t) => {
  const env = { ...basicEnv(), KEKPASS: '', GOSSIPKEY_B64: '!!' }
  try {
    loadConfig({ env, args: ['BOGUS=1', 'TTL=5'], environmentSh: '/nonexistent' })
    t.fail('expected a ParamError')
  } catch (e) {
    t.ok(e instanceof ParamError)
    t.same(names((e as ParamError).problems), ['BOGUS', 'GOSSIPKEY', 'KEKPASS', 'TTL'])
  }
  const { params } = loadConfig({ env: basicEnv(), args: [], environmentSh: '/nonexistent' })
  t.equal(params.NODENAME, 'pg1')
})
