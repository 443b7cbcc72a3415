// `cook check` and `cook render` as a user meets them: golden files, modes, the exit-78 contract with
// nothing written, secrets never echoed nor world-readable, and random bad input never crashing the cook.
import { spawnSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { PARAM_NAMES, PARAMS, SECRET_NAMES, validate } from '../../cook/params.js'
import { verifierIn } from '../../cook/prior.js'
import { sh, yaml } from '../../cook/quote.js'
import { scramMatches } from '../../cook/secrets.js'
import { basicEnv, cook, tempDir } from '../helpers.js'

const GOLDEN = new URL('../golden/', import.meta.url).pathname
const GOLDEN_ROOT = join(GOLDEN, 'basic')
const GOLDEN_REPORT = join(GOLDEN, 'basic.render.txt')

/** Every regular file under dir, relative, sorted. */
function files(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => statSync(join(dir, p)).isFile())
    .sort()
}

const ROLE_FILES = ['usr/local/etc/patroni/admin-role.sql', 'usr/local/etc/patroni/monitor-role.sql']
const VERIFIERS = /SCRAM-SHA-256\$[^']+/g

const render = (root: string, env: Record<string, string | undefined>, ...extra: string[]) =>
  cook(['render', '--root', root, '--owners', 'record', ...extra], env)

t.test('golden: a typical member of a three-node cluster, byte for byte', async (t) => {
  const root = join(tempDir(t), 'jail')
  const r = await render(root, basicEnv())
  t.equal(r.code, 0, r.err)
  t.match(
    r.err,
    /^warning: TLS=off: client sessions, replication, the REST API .* travel in plain text/,
    'TLS=off says what it gives up',
  )
  t.match(
    r.err,
    /^warning: CONSULACL=off: .* can write Patroni's keys/m,
    'CONSULACL=off says what it gives up',
  )
  t.equal(r.err.split('\n').length, 2, 'and nothing else')
  // The role files' verifiers have random salts: compared without them, and proven against their passwords.
  const read = (dir: string, f: string) => {
    const text = readFileSync(join(dir, f), 'utf8')
    return ROLE_FILES.includes(f) ? text.replace(VERIFIERS, 'VERIFIER') : text
  }
  if (process.env.UPDATE_GOLDEN === '1') {
    const kept = new Map(
      files(GOLDEN_ROOT)
        .filter((f) => ROLE_FILES.includes(f) && read(GOLDEN_ROOT, f) === read(root, f))
        .map((f) => [f, readFileSync(join(GOLDEN_ROOT, f))]),
    )
    rmSync(GOLDEN_ROOT, { recursive: true, force: true })
    for (const f of files(root)) {
      mkdirSync(dirname(join(GOLDEN_ROOT, f)), { recursive: true })
      writeFileSync(join(GOLDEN_ROOT, f), kept.get(f) ?? readFileSync(join(root, f)))
    }
    writeFileSync(GOLDEN_REPORT, `${r.out}\n`)
  }
  t.same(files(root), files(GOLDEN_ROOT), 'the same files (UPDATE_GOLDEN=1 npm run test:unit regenerates)')
  for (const f of files(GOLDEN_ROOT)) t.equal(read(root, f), read(GOLDEN_ROOT, f), f)
  const p = validate(basicEnv())
  t.ok(scramMatches(verifierIn(readFileSync(join(root, ROLE_FILES[0] ?? ''), 'utf8')) ?? '', p.ADMPASS))
  t.ok(scramMatches(verifierIn(readFileSync(join(root, ROLE_FILES[1] ?? ''), 'utf8')) ?? '', p.MONPASS))
  t.equal(`${r.out}\n`, readFileSync(GOLDEN_REPORT, 'utf8'), 'the same report: every path, mode and owner')
})

t.test('modes on disk are the plan’s, whatever the umask', async (t) => {
  const root = join(tempDir(t), 'jail')
  const old = process.umask(0o000)
  try {
    t.equal((await render(root, basicEnv())).code, 0)
  } finally {
    process.umask(old)
  }
  const mode = (p: string) => (statSync(join(root, p)).mode & 0o7777).toString(8)
  t.equal(mode('usr/local/etc/patroni/patroni.yml'), '600')
  t.equal(mode('usr/local/etc/patroni/admin-role.sql'), '600')
  t.equal(mode('usr/local/etc/patroni/post-bootstrap.sh'), '750')
  t.equal(mode('usr/local/etc/patroni'), '750')
  t.equal(mode('usr/local/etc/consul.d/agent.hcl'), '640')
  t.equal(mode('usr/local/etc/rc.d/patroni'), '755')
  t.equal(mode('mnt/postgres/data'), '700')
  t.equal(mode('var/db/consul'), '750')
})

t.test(
  'SCRAM salts are random, kept while they prove the password, never derived from KEKPASS',
  async (t) => {
    const env = basicEnv()
    const p = validate(env)
    const [a, b] = [join(tempDir(t), 'a'), join(tempDir(t), 'b')]
    t.equal((await render(a, env)).code, 0)
    t.equal((await render(b, env)).code, 0)
    const verifier = (root: string, f: string) => verifierIn(readFileSync(join(root, f), 'utf8')) ?? ''
    const salt = (v: string) => Buffer.from(/:([^$]+)\$/.exec(v)?.[1] ?? '', 'base64')
    for (const [f, role, password] of [
      [ROLE_FILES[0] ?? '', 'admin', p.ADMPASS],
      [ROLE_FILES[1] ?? '', 'monitor', p.MONPASS],
    ] as const) {
      const [va, vb] = [verifier(a, f), verifier(b, f)]
      t.ok(scramMatches(va, password) && scramMatches(vb, password), `${role}: both prove the password`)
      t.not(va, vb, `${role}: two fresh renders, two salts`)
      t.equal(salt(va).length, 16, `${role}: a 16-byte salt`)
      // What the salt was before: HMAC-SHA256(KEKPASS, "<role>-salt/SCOPE"), sent to anyone who starts a login.
      const derived = createHmac('sha256', p.KEKPASS)
        .update(`${role}-salt/${p.SCOPE}`)
        .digest()
        .subarray(0, 16)
      t.notOk(
        salt(va).equals(derived) || salt(vb).equals(derived),
        `${role}: the salt is not a function of KEKPASS`,
      )
    }
    // A re-render into the same root changes nothing, the role files included.
    const before = ROLE_FILES.map((f) => readFileSync(join(a, f), 'utf8'))
    const again = await render(a, env)
    t.equal(again.code, 0)
    t.same(
      ROLE_FILES.map((f) => readFileSync(join(a, f), 'utf8')),
      before,
      'a re-render writes the same bytes',
    )
    t.notMatch(again.out, /^(created|changed|updated)/m, `nothing changed: ${again.out}`)
    // A new ADMPASS: a new verifier with a new salt; MONPASS did not change, so its verifier stays.
    const newer = await render(a, { ...env, ADMPASS: 'another-admin-Secret' })
    t.equal(newer.code, 0)
    const replaced = verifier(a, ROLE_FILES[0] ?? '')
    t.ok(scramMatches(replaced, 'another-admin-Secret'), 'the new verifier proves the new ADMPASS')
    t.notOk(salt(replaced).equals(salt(verifier(b, ROLE_FILES[0] ?? ''))), 'with a new salt')
    t.notOk(salt(replaced).equals(salt(before[0] ?? '')), 'not the old one')
    t.equal(readFileSync(join(a, ROLE_FILES[1] ?? ''), 'utf8'), before[1], 'the monitor file stays')
    // The postgres user owns these files: a verifier of another password, or one that would take a
    // billion iterations to check, is replaced (and quickly).
    const tampered = readFileSync(join(a, ROLE_FILES[1] ?? ''), 'utf8').replace(
      /SCRAM-SHA-256\$4096:/g,
      'SCRAM-SHA-256$1000000000:',
    )
    writeFileSync(join(a, ROLE_FILES[1] ?? ''), tampered)
    const started = Date.now()
    t.equal((await render(a, env)).code, 0)
    t.ok(Date.now() - started < 5000, 'no billion iterations')
    const monitor = verifier(a, ROLE_FILES[1] ?? '')
    t.ok(scramMatches(monitor, p.MONPASS), 'a verifier of MONPASS again')
    t.match(monitor, /^SCRAM-SHA-256\$4096:/)
  },
)

t.test('no secret, in any encoding, in a world-readable file', async (t) => {
  const root = join(tempDir(t), 'jail')
  const env = {
    ...basicEnv(),
    CONSULACL: 'on',
    KEKPASS: 'kek "Sécret" 1 long enough',
    ADMPASS: "adm 'Sécret' 2 long enough",
    CONSULTOKEN: '5f4a1c2e-9b1d-4c7a-8e2f-3a6b7c8d9e0f',
  }
  t.equal((await render(root, env)).code, 0)
  const p = validate(env)
  const set = SECRET_NAMES.filter((n) => typeof p[n] === 'string')
  t.same(
    set,
    [
      'ADMPASS',
      'KEKPASS',
      'GOSSIPKEY',
      'REPPASS',
      'REWINDPASS',
      'METRICSPASS',
      'MONPASS',
      'CONSULTOKEN',
      'RESTPASS',
    ],
    'TLS=off in basic.env: no key; no backups: no cipher passphrase',
  )
  const secrets = set.map((n) => p[n] as string)
  const encodings = (v: string) => [
    v,
    yaml(v).slice(1, -1),
    sh(v),
    Buffer.from(v).toString('base64'),
    Buffer.from(v).toString('base64url'),
    Buffer.from(v).toString('hex'),
    encodeURIComponent(v),
  ]
  let readable = 0
  for (const f of files(root)) {
    const text = readFileSync(join(root, f), 'utf8')
    const worldReadable = (statSync(join(root, f)).mode & 0o004) !== 0
    const holds = secrets.some((s) => encodings(s).some((e) => text.includes(e)))
    if (worldReadable) {
      readable++
      t.notOk(holds, `${f} is world-readable and holds no secret`)
    } else if (holds)
      t.equal(statSync(join(root, f)).mode & 0o007, 0, `${f} holds secrets, others cannot read it`)
  }
  t.ok(readable >= 1, 'the scan saw the world-readable rc.d script')
})

/** Bad values for every kind of parameter, secrets among them, each with a marker that must not leak. */
const BAD_ENV = {
  ...basicEnv(),
  CONSULACL: 'on',
  MYIP: '127.0.0.1',
  CONSULSERVERS: '10.0.0.2,10.0.0.3',
  KEKPASS: 'LEAK-1 kek\nwith a line break',
  REPPASS: 'LEAK-2\r',
  GOSSIPKEY: 'LEAK-3-not-a-key',
  CONSULTOKEN: 'LEAK 4 "token"',
  ADMPASS_B64: 'LEAK-5!!',
  TTL: '9',
}
const BAD_NAMES = [
  'ADMPASS',
  'CONSULSERVERS',
  'CONSULTOKEN',
  'GOSSIPKEY',
  'KEKPASS',
  'MYIP',
  'REPPASS',
  'TTL',
]

function checkContract(t: Test, r: { code: number; out: string; err: string }, names: string[]): void {
  t.equal(r.code, 78, 'exit status 78 (EX_CONFIG)')
  const lines = r.err.split('\n')
  t.same(
    lines.map((l) => l.slice(0, l.indexOf(': '))).sort(),
    names,
    'one line per problem, starting with its name',
  )
  for (const l of lines)
    t.match(l, /^[A-Z][A-Z0-9_]*: \S.*; want \S/, 'says what is wrong and what is expected')
  t.notMatch(r.out + r.err, /LEAK/, 'no secret echoed, not even a wrong one')
  t.notMatch(r.err, /\n\s+at /, 'no stack trace')
}

t.test('invalid parameters: check exits 78 with one line per problem', async (t) => {
  checkContract(t, await cook(['check'], BAD_ENV), BAD_NAMES)
  const r = await cook(['check', 'NODENAME=pg 1', 'LOOPWAIT=x'], basicEnv())
  checkContract(t, r, ['LOOPWAIT', 'NODENAME'])
  t.match(r.err, /^NODENAME: "pg 1" is not a DNS label/m, 'a plain value is shown, quoted')
  const nl = await cook(['check'], { ...basicEnv(), NODENAME: 'pg\n1' })
  t.equal(
    nl.err,
    'NODENAME: "pg\\n1" is not a DNS label; want a DNS label: letters, digits and "-", at most 63 characters, no dots',
  )
})

t.test('invalid parameters: render exits 78 and creates nothing, anywhere', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'jail')
  for (const extra of [[], ['--dry-run']]) {
    checkContract(t, await render(root, BAD_ENV, ...extra), BAD_NAMES)
    t.notOk(existsSync(root), `the root was not created ${extra.join(' ')}`)
  }
  mkdirSync(root)
  checkContract(t, await render(root, BAD_ENV), BAD_NAMES)
  t.same(readdirSync(root), [], 'an existing root stays empty')
  t.same(readdirSync(dir), ['jail'], 'nothing beside it either')
  const once = await render(root, basicEnv())
  t.equal(once.code, 0)
  const before = files(root).map((f) => [
    f,
    readFileSync(join(root, f), 'utf8'),
    statSync(join(root, f)).mtimeMs,
  ])
  checkContract(t, await render(root, BAD_ENV), BAD_NAMES)
  const after = files(root).map((f) => [
    f,
    readFileSync(join(root, f), 'utf8'),
    statSync(join(root, f)).mtimeMs,
  ])
  t.same(after, before, 'a rendered jail is left exactly as it was')
})

t.test('the real process: exit status 78, problems on stderr', async (t) => {
  const main = new URL('../../cook/main.ts', import.meta.url).pathname
  const r = spawnSync(
    process.execPath,
    ['--import=@tapjs/typescript/import', main, 'check', '--environment-sh', '/nonexistent', 'TTL=9'],
    { encoding: 'utf8', env: { ...BAD_ENV, PATH: process.env.PATH, TS_NODE_TRANSPILE_ONLY: '1' } },
  )
  checkContract(t, { code: r.status ?? -1, out: r.stdout, err: r.stderr.trimEnd() }, BAD_NAMES)
})

t.test('--dev-allow-loopback lets a development cluster use 127.0.0.0/8, in check and render', async (t) => {
  const env = { ...basicEnv(), MYIP: '127.0.0.11' }
  checkContract(t, await cook(['check'], env), ['MYIP'])
  t.equal((await cook(['check', '--dev-allow-loopback'], env)).code, 0)
  const root = join(tempDir(t), 'jail')
  checkContract(t, await render(root, env), ['MYIP'])
  const r = await render(root, env, '--dev-allow-loopback')
  t.equal(r.code, 0, r.err)
  t.match(
    readFileSync(join(root, 'usr/local/etc/patroni/patroni.yml'), 'utf8'),
    /connect_address: "127\.0\.0\.11:5432"/,
  )
})

t.test('usage errors are not parameter errors', async (t) => {
  const noRoot = await cook(['render'], basicEnv())
  t.equal(noRoot.code, 64)
  t.match(noRoot.err, /--root/)
  t.equal((await cook(['render', '--root', '/x', '--owners', 'maybe'], basicEnv())).code, 64)
  t.equal((await cook(['check', '--no-such-option'], basicEnv())).code, 64)
})

t.test('check prints every resolved parameter with its source, secrets redacted', async (t) => {
  const r = await cook(['check', 'SCOPE=orders'], {
    ...basicEnv(),
    IP: '10.0.0.12',
    MYIP: undefined,
    OLDKEKPASS: 'old-kek-Secret-0',
  })
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^MYIP\s+10\.0\.0\.12\s+\(environment\)$/m)
  t.match(r.out, /^SCOPE\s+orders\s+\(arguments\)$/m)
  t.match(r.out, /^TTL\s+30\s+\(default\)$/m)
  for (const n of SECRET_NAMES.filter(
    (n) =>
      !['BACKUPCIPHERPASS', 'CONSULTOKEN', 'CONSULAGENTTOKEN', 'S3KEY', 'S3SECRET', 'TLSKEY'].includes(n),
  ))
    t.match(r.out, new RegExp(`^${n}\\s+<redacted>\\s`, 'm'), n)
  t.notMatch(r.out, /kek-Secret-2-basic-env|admin-Secret-1-basic|cg8StVXb|old-kek-Secret-0/)
})

t.test('random bad input never crashes the cook: 0 when valid, else 78 with messages', async (t) => {
  const junk = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef.:,/[]% "\'\\$`{}=-_\n\tüZ'), maxLength: 30 }),
    fc.constantFrom('', ' ', '0', '-1', '::', '0.0.0.0/0', 'on', 'null', '${x}', 'etcd', 'standby-leader'),
  )
  const names = [...PARAM_NAMES, 'IP', 'KEKPASS_B64', 'ADMPASS_B64', 'NOPE', 'kekpass']
  const isSecret = (k: string) => SECRET_NAMES.some((s) => k.startsWith(s))
  const value = fc.oneof(junk, fc.constantFrom(...PARAM_NAMES.map((n) => PARAMS[n].example)))
  // Secret values often carry a marker, so a leak is seen whatever else the value looks like.
  const MARK = 'Zq9'
  const valueFor = (k: string) =>
    isSecret(k)
      ? fc.oneof(
          value,
          value.map((v) => `${MARK}${v}`),
        )
      : value
  const overrides = fc
    .uniqueArray(fc.constantFrom(...names), { maxLength: 5 })
    .chain((keys) =>
      fc
        .tuple(...keys.map((k) => fc.option(valueFor(k), { nil: undefined })))
        .map((vals) => Object.fromEntries(keys.map((k, i) => [k, vals[i]]))),
    )
  const arg = fc.oneof(
    fc.constantFrom(...names).chain((k) => valueFor(k).map((v) => `${k}=${v}`)),
    junk.filter((s) => !s.startsWith('-')),
  )
  const dir = tempDir(t)
  let valid = 0
  let invalid = 0
  await fc.assert(
    fc.asyncProperty(
      overrides,
      fc.array(arg, { maxLength: 3 }),
      fc.boolean(),
      async (over, args, useRender) => {
        const argv = useRender
          ? ['render', '--root', join(dir, 'never'), '--dry-run', '--owners', 'record', ...args]
          : ['check', ...args]
        const r = await cook(argv, { ...basicEnv(), ...over })
        if (r.code === 0) valid++
        else invalid++
        return (
          (r.code === 0 || (r.code === 78 && r.err.split('\n').every((l) => /^\S[^:]*: \S/.test(l)))) &&
          !/unexpected error|\n\s+at /.test(r.err) &&
          !`${r.out}${r.err}`.includes(MARK) &&
          !existsSync(join(dir, 'never'))
        )
      },
    ),
    { numRuns: 200, seed: Number(process.env.FC_SEED ?? 20240601) },
  )
  t.ok(valid > 5 && invalid > 100, `both outcomes were exercised (${valid} valid, ${invalid} invalid)`)
})

t.test('the golden root lists nothing outside the jail layout', async (t) => {
  for (const f of files(GOLDEN_ROOT))
    t.match(`/${relative(GOLDEN_ROOT, join(GOLDEN_ROOT, f))}`, /^\/(usr\/local\/etc|var|mnt)\//)
})
