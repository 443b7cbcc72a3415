// The Nomad job (nomad/patroni-postgresql.nomad.hcl) and its variables example, parsed by a real HCL2
// parser and checked against the cook's parameter schema and the pot driver's behaviour.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CookError } from '../../cook/errors.js'
import { PARAM_NAMES, PARAMS, SECRET_NAMES, isRequired, validate, type RawParams } from '../../cook/params.js'
import { isParamKey, resolve } from '../../cook/sources.js'
import { basicEnv, tempDir } from '../helpers.js'
import { issue, makeCa, readPem } from '../../scripts/lib/certs.js'
import {
  block,
  blocks,
  evaluate,
  labelled,
  loadJob,
  loadVars,
  memberScopes,
  seconds,
  variableValues,
  type Body,
  type Scope,
} from '../nomad-job.js'

const job = await loadJob()
const varsFile = await loadVars()
const vars = variableValues(job, varsFile.values)
const scopes = memberScopes(vars)
const config = block(job.task, 'config')
const envBlock = block(job.task, 'env')
const templates = blocks(job.task, 'template')
const secretsTemplate = templates.find((tpl) => String(tpl.data).includes('nomadVar'))

/** Keys the secrets template writes, e.g. KEKPASS_B64. */
function templateKeys(): string[] {
  return [...String(secretsTemplate?.data ?? '').matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)=/gm)].map(
    (m) => m[1] as string,
  )
}

/** Parameter names the job provides, from env {} and from the template (NAME_B64 -> NAME). */
function providedParams(): Set<string> {
  const names = new Set<string>()
  for (const key of Object.keys(envBlock)) names.add(key)
  for (const key of templateKeys()) names.add(key.replace(/_B64$/, ''))
  return names
}

/** Required parameters (always, or given the values the job sets, e.g. DCS) the job does not provide. */
function missingRequired(provided: Set<string>): string[] {
  const raw: RawParams = {}
  for (const name of PARAM_NAMES) {
    if (!provided.has(name)) continue
    const literal = envBlock[name]
    raw[name] = typeof literal === 'string' && !literal.includes('${') ? literal : 'set'
  }
  return PARAM_NAMES.filter((name) => isRequired(name, raw) && !provided.has(name))
}

const secretsDir = mkdtempSync(join(tmpdir(), 'nomad-secrets-'))
t.teardown(() => rmSync(secretsDir, { recursive: true, force: true }))
let secretsFiles = 0

/**
 * The environment one member's jail gets: env {} evaluated for it. The template's secrets go into a file
 * with the template's perms, which SECRETSFILE names (the jail's /secrets is the task's secrets directory;
 * here a directory of the test).
 */
function memberEnv(scope: Scope, secrets: Record<string, string>): Record<string, string> {
  const env = evaluate(envBlock, scope) as Record<string, string>
  const lines: string[] = []
  for (const key of templateKeys()) {
    const name = key.replace(/_B64$/, '') as keyof typeof secrets
    if (secrets[name] !== undefined) lines.push(`${key}=${Buffer.from(secrets[name]).toString('base64')}`)
  }
  const file = join(secretsDir, `cook-${secretsFiles++}.env`)
  writeFileSync(file, `${lines.join('\n')}\n`, {
    mode: Number.parseInt(String(secretsTemplate?.perms ?? '644'), 8),
  })
  return { ...env, SECRETSFILE: file }
}

t.test('the job is a service job on the pot driver with the config keys the driver requires', async (t) => {
  t.equal(job.job.type, 'service')
  t.equal(job.task.driver, 'pot')
  for (const key of ['image', 'pot', 'tag']) t.ok(config[key], `config.${key} is set`)
  t.equal(config.command, '/usr/local/bin/cook')
  // The driver's task config schema (bsdpot/nomad-pot-driver, driver/driver.go taskConfigSpec).
  const known = [
    'image',
    'pot',
    'tag',
    'command',
    'args',
    'port_map',
    'network_mode',
    'mount',
    'copy',
    'mount_read_only',
    'extra_hosts',
    'attributes',
  ]
  t.same(
    Object.keys(config).filter((k) => !known.includes(k)),
    [],
    'no key the driver would reject',
  )
})

t.test('one task group per member, each with its own name, address and data directory', async (t) => {
  t.same(job.dynamicGroup.for_each, '${var.members}')
  const labels = scopes.map((s) => evaluate(job.dynamicGroup.labels, s))
  t.same(
    labels,
    scopes.map((s) => [s.member.name]),
    'groups are named after the members',
  )
  for (const s of scopes) {
    const env = evaluate(envBlock, s) as Record<string, string>
    t.equal(env.NODENAME, s.member.name)
    t.equal(env.MYIP, s.member.ip)
    const mounts = evaluate(config.mount, s) as string[]
    const data = mounts.find((m) => m.endsWith(':/mnt'))
    t.equal(data, `${s.member.data_dir}:/mnt`, 'the data directory is mounted at /mnt')
    // The driver splits mount entries on ":" and keeps pieces 0 and 1 only.
    for (const m of mounts) t.equal(m.split(':').length, 2, `${m} has exactly one colon`)
    const pin = blocks(job.group, 'constraint').map((c) => evaluate(c, s) as Body)
    t.ok(
      pin.some((c) => c.attribute === '${attr.unique.network.ip-address}' && c.value === s.member.ip),
      'the member is pinned to the client whose address is its MYIP',
    )
  }
  const tags = scopes.map((s) => (evaluate(envBlock, s) as Record<string, string>).SERVICETAG)
  t.same(tags, ['master', ...tags.slice(1).map(() => 'replica')], 'master first, replicas after')
})

t.test('every required cook parameter comes from env {} or the secrets template', async (t) => {
  t.same(missingRequired(providedParams()), [], 'nothing required is missing')
  for (const key of Object.keys(envBlock)) t.ok(PARAMS[key as keyof typeof PARAMS], `${key} is a parameter`)
})

t.test('the check fails when the job lacks a required parameter (the schema gained one)', async (t) => {
  for (const name of ['NODENAME', 'KEKPASS', 'GOSSIPKEY', 'CONSULSERVERS']) {
    const provided = providedParams()
    provided.delete(name)
    t.same(missingRequired(provided), [name], `without ${name}`)
  }
})

/** The secrets of one member: basic.env's passwords, the CA, and a certificate for the member's name and ip. */
function certSecrets(t: { teardown: (fn: () => void) => void }) {
  const ca = makeCa(tempDir(t, 'nomad-ca-'))
  return (s: Scope): Record<string, string> => {
    const name = s.member.name ?? ''
    const cert = issue(ca, name, { ips: [s.member.ip ?? ''], dns: [name] })
    const { TLS: _off, ...rest } = basicEnv()
    return {
      ...rest,
      CONSULTOKEN: '6f1b2c3d-aaaa-bbbb-cccc-0123456789ab',
      TLSCA: readPem(ca.cert),
      TLSCERT: readPem(cert.cert),
      TLSKEY: readPem(cert.key),
    }
  }
}

t.test('each member gets a parameter set the cook accepts', async (t) => {
  const secretsOf = certSecrets(t)
  for (const s of scopes) {
    const secrets = secretsOf(s)
    const env = memberEnv(s, secrets)
    const resolved = resolve({ env })
    t.same(resolved.problems, [], `${s.member.name}: sources resolve`)
    const p = validate(resolved.raw)
    t.equal(p.NODENAME, s.member.name)
    t.equal(p.KEKPASS, secrets.KEKPASS, 'KEKPASS arrives through KEKPASS_B64')
    t.equal(p.GOSSIPKEY, secrets.GOSSIPKEY)
    t.equal(p.DCS, 'consul')
    t.equal(p.TLS, 'on')
    t.equal(p.TLSKEY, secrets.TLSKEY, "the member's key arrives through TLSKEY_B64")
  }
  let problems: string[] = []
  try {
    validate(resolve({ env: memberEnv(scopes[0]!, {}) }).raw)
  } catch (e) {
    problems = (e as CookError).problems.map((p) => p.name)
  }
  t.same(
    problems,
    ['ADMPASS', 'KEKPASS', 'GOSSIPKEY', 'CONSULTOKEN', 'TLSCA', 'TLSCERT', 'TLSKEY'],
    'without the variable, cook names each missing secret',
  )
})

t.test('a five-member cluster is only a variables change', async (t) => {
  const members = [...(vars.members as Record<string, string>[])]
  for (const n of [4, 5])
    members.push({ name: `pg${n}`, ip: `10.0.0.${10 + n}`, data_dir: '/mnt/postgresqldata' })
  const five = memberScopes({ ...vars, members })
  const envs = five.map((s) => evaluate(envBlock, s) as Record<string, string>)
  t.equal(new Set(envs.map((e) => e.NODENAME)).size, 5, 'five distinct members')
  t.same(
    envs.map((e) => e.SERVICETAG),
    ['master', 'replica', 'replica', 'replica', 'replica'],
  )
  const secretsOf = certSecrets(t)
  for (const s of five)
    t.equal(validate(resolve({ env: memberEnv(s, secretsOf(s)) }).raw).NODENAME, s.member.name)
})

t.test('operator settings: job-wide variables and per-member tags reach the cook', async (t) => {
  const members = (vars.members as Record<string, string>[]).map((m, i) =>
    i === 1 ? { ...m, nofailover: 'on', noloadbalance: 'on' } : i === 2 ? { ...m, replicatefrom: 'pg2' } : m,
  )
  const custom = {
    ...vars,
    members,
    dbname: 'app',
    pgparams: 'work_mem=16MB max_connections=200',
    slots: 'standby_dr',
    failsafe: 'off',
  }
  const secretsOf = certSecrets(t)
  const [first, second, third] = memberScopes(custom).map((s) =>
    validate(resolve({ env: memberEnv(s, secretsOf(s)) }).raw),
  )
  t.same(
    [first?.DBNAME, first?.DBOWNER, first?.PGPARAMS, first?.FAILSAFE, first?.SLOTS],
    [
      'app',
      'admin',
      { work_mem: '16MB', max_connections: '200' },
      false,
      [{ name: 'standby_dr', type: 'physical' }],
    ],
  )
  t.same(
    [first?.NOFAILOVER, second?.NOFAILOVER, second?.NOLOADBALANCE, third?.REPLICATEFROM],
    [false, true, true, 'pg2'],
  )
  const plain = validate(resolve({ env: memberEnv(scopes[0]!, secretsOf(scopes[0]!)) }).raw)
  t.same(
    [plain.DBNAME, plain.PGPARAMS, plain.FAILSAFE, plain.REPLICATEFROM],
    [undefined, {}, true, undefined],
    'the defaults',
  )
  const env = { ...memberEnv(scopes[0]!, secretsOf(scopes[0]!)), NOMAD_MEMORY_LIMIT: String(vars.memory) }
  t.equal(validate(resolve({ env }).raw).MEMORY, vars.memory, "Nomad's NOMAD_MEMORY_LIMIT becomes MEMORY")
  t.match(job.text, /validation \{[^}]*regex\("\[\$`/, 'pgparams refuses what tinirc would expand')
})

t.test('secrets come only from Nomad Variables, base64-encoded', async (t) => {
  t.ok(secretsTemplate, 'a template reads nomadVar')
  const tpl = secretsTemplate as Body
  t.equal(tpl.env, false, 'a file, not environment (the driver would pass it to pot set-env)')
  t.match(String(tpl.destination), /^secrets\//, 'in the task secrets directory')
  const path = evaluate(/nomadVar "([^"]*)"/.exec(String(tpl.data))?.[1], scopes[0]!)
  t.equal(path, vars.secrets_path)
  t.equal(job.variables.secrets_path?.default, `nomad/jobs/${job.id}`, 'the path the job may read by default')
  const keys = templateKeys()
  t.ok(keys.length > 0)
  for (const key of keys) {
    t.match(key, /_B64$/, `${key} is base64 (pot's tinirc would expand $, \` and \\ in a plain value)`)
    t.ok(isParamKey(key), `${key} is a name the cook reads`)
    t.ok(
      SECRET_NAMES.includes(key.replace(/_B64$/, '') as (typeof SECRET_NAMES)[number]) ||
        PARAMS[key.replace(/_B64$/, '') as keyof typeof PARAMS].pem === true,
      `${key} is a secret or a certificate`,
    )
    const line = String(tpl.data)
      .split('\n')
      .find((l) => l.trim().startsWith(`${key}=`)) as string
    t.match(line, /\|\s*base64Encode\s*\}\}/, `${key} is encoded by the template`)
    t.notMatch(
      line.replace(/\{\{[^}]*\}\}/g, '').trim(),
      new RegExp(`^${key}=.`),
      `${key} has no literal value`,
    )
  }
  for (const name of ['ADMPASS', 'KEKPASS', 'GOSSIPKEY', 'CONSULTOKEN', 'TLSCA', 'TLSCERT', 'TLSKEY'])
    t.ok(keys.includes(`${name}_B64`), `${name} is read from the variable`)
  const paths = [...String(tpl.data).matchAll(/nomadVar "([^"]*)"/g)].map((m) => evaluate(m[1], scopes[1]!))
  t.same(
    paths,
    [vars.secrets_path, `${vars.secrets_path}/${scopes[1]!.member.name}`],
    "a member's certificate and key come from its own path, the group's",
  )
})

t.test('no secret value in the job or the variables file', async (t) => {
  for (const name of SECRET_NAMES) {
    t.notOk(name in envBlock, `${name} is not in env {}`)
    t.notOk(
      Object.keys(varsFile.values).some((k) => k.toUpperCase().includes(name)),
      `${name} is not a variable`,
    )
  }
  const values = [
    ...SECRET_NAMES.map((n) => PARAMS[n].example),
    ...Object.entries(basicEnv())
      .filter(([k]) => SECRET_NAMES.includes(k as (typeof SECRET_NAMES)[number]))
      .map(([, v]) => v),
  ]
  for (const v of values) {
    t.notOk(job.text.includes(v), `the job does not contain a sample secret`)
    t.notOk(varsFile.text.includes(v), `the variables file does not contain a sample secret`)
  }
})

t.test("no secret reaches the task's environment; the secrets file is root's alone", async (t) => {
  // What the driver hands to `pot set-env` (nomad-pot-driver, prepare.go: cfg.Env): env {} and the keys of
  // every template with env = true (Nomad's template stanza: perms defaults to "644", env to false).
  const secretKey = (key: string) => {
    const name = key.replace(/_B64$/, '')
    return name in PARAMS && PARAMS[name as keyof typeof PARAMS].secret === true
  }
  const taskEnv = [
    ...Object.keys(envBlock),
    ...templates
      .filter((tpl) => tpl.env === true)
      .flatMap((tpl) =>
        [...String(tpl.data).matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1] as string),
      ),
  ]
  t.same(taskEnv.filter(secretKey), [], 'no secret parameter (NAME or NAME_B64) in the task environment')
  for (const tpl of templates.filter((x) => /^\s*[A-Za-z_][A-Za-z0-9_]*=/m.test(String(x.data)))) {
    t.not(tpl.env, true, `${String(tpl.destination)} is not turned into environment`)
    t.ok(
      ['0600', '0400', '600', '400'].includes(String(tpl.perms)),
      `${String(tpl.destination)} has perms 0600`,
    )
  }
  // The driver mounts the task's secrets directory at /secrets (prepare.go: mount-in -m /secrets).
  t.equal(
    envBlock.SECRETSFILE,
    `/${String(secretsTemplate?.destination)}`,
    'cook reads the template the job renders',
  )
  t.match(String(secretsTemplate?.destination), /^secrets\//, 'in the task secrets directory')
})

t.test('cook refuses a secret in the environment of a Nomad task', async (t) => {
  const env = {
    ...memberEnv(scopes[0]!, {}),
    NOMAD_ALLOC_ID: 'a1',
    KEKPASS_B64: Buffer.from('x').toString('base64'),
  }
  t.same(
    resolve({ env }).problems.map((p) => p.name),
    ['KEKPASS'],
  )
})

t.test("env values survive pot set-env and the jail's shell", async (t) => {
  for (const s of scopes)
    for (const [k, v] of Object.entries(evaluate(envBlock, s) as Record<string, string>))
      t.notMatch(v, /[$`\\"\n]/, `${s.member.name} ${k} has no character tinirc would alter`)
})

t.test('base64 is what keeps a secret intact through tinirc (real /bin/sh)', async (t) => {
  const secret = 'pa$$word`true`\\n"end'
  const b64 = Buffer.from(secret).toString('base64')
  // pot writes pot.env="NAME=value" with only " escaped; tinirc turns each into export "NAME=value".
  const line = (name: string, value: string) => `export "${name}=${value.replace(/"/g, '\\"')}"`
  const out = execFileSync(
    '/bin/sh',
    [
      '-c',
      `${line('KEKPASS', secret)}\n${line('KEKPASS_B64', b64)}\nprintf '%s\\n%s' "$KEKPASS" "$KEKPASS_B64"`,
    ],
    { encoding: 'utf8' },
  ).split('\n')
  t.not(out[0], secret, 'a plain value is altered by the shell')
  t.equal(resolve({ env: { KEKPASS_B64: out[1] } }).raw.KEKPASS, secret, 'the base64 form arrives intact')
})

t.test('members run on distinct hosts', async (t) => {
  const distinct = blocks(job.job, 'constraint').filter((c) => c.operator === 'distinct_hosts')
  t.equal(distinct.length, 1, 'a job-level distinct_hosts constraint (a group has one member only)')
  t.equal(String(distinct[0]?.value), 'true')
})

t.test('ports 5432 and 8008 are reserved and mapped', async (t) => {
  const ports = labelled(block(job.group, 'network'), 'port')
  const portMap = config.port_map as Record<string, string>
  const byPort = Object.fromEntries(Object.entries(ports).map(([label, p]) => [String(p.static), label]))
  for (const port of ['5432', '8008']) {
    const label = byPort[port]
    t.ok(label, `a static port ${port}`)
    t.equal(portMap[label as string], port, `port_map.${label} is the jail's ${port}`)
  }
})

t.test('the stop hook is set through the driver attributes', async (t) => {
  const attrs = evaluate(config.attributes, scopes[0]!) as string[]
  const parsed = Object.fromEntries(
    attrs.map((a) => {
      // The driver runs set-attribute with split(":")[0] and [1]: a second colon would cut the value.
      t.equal(a.split(':').length, 2, `${a} has exactly one colon`)
      return a.split(':') as [string, string]
    }),
  )
  // The wrapper that always exits 0: a failed exec.stop keeps the jail (and PostgreSQL) alive.
  t.equal(parsed.exec_stop, '/usr/local/bin/cook-stop')
  const timeout = Number(parsed.stop_timeout)
  t.ok(Number.isInteger(timeout) && timeout > 0, `stop_timeout is a whole number of seconds (${timeout})`)
})

t.test('restart and reschedule policies avoid fast loops over a data directory', async (t) => {
  const restart = block(job.group, 'restart')
  t.ok(['fail', 'delay'].includes(String(restart.mode)), 'restart mode fail or delay')
  t.ok(Number(restart.attempts) <= 3, 'few restart attempts')
  const ttl = Number(PARAMS.TTL.defaultDoc)
  t.ok(seconds(String(restart.delay)) >= ttl, `restart delay ${restart.delay} is at least the TTL (${ttl} s)`)
  const reschedule = block(job.group, 'reschedule')
  t.ok(seconds(String(reschedule.delay)) >= ttl, 'reschedule waits too')
  t.ok(
    reschedule.unlimited === false || seconds(String(reschedule.interval)) >= 3600,
    'reschedule is bounded',
  )
})

t.test('no Nomad service competes with the one Patroni registers', async (t) => {
  const services = [...blocks(job.group, 'service'), ...blocks(job.task, 'service')]
  for (const s of scopes)
    for (const svc of services) t.not(evaluate(svc.name, s), s.vars.scope, 'not named like the Patroni scope')
})

t.test('the variables example: declared names, a consistent member list', async (t) => {
  for (const name of Object.keys(varsFile.values)) t.ok(job.variables[name], `${name} is declared by the job`)
  for (const [name, v] of Object.entries(job.variables))
    if (!v.hasDefault) t.ok(name in varsFile.values, `${name} (no default) is set`)
  const members = scopes.map((s) => s.member)
  t.ok([3, 5].includes(members.length), `${members.length} members`)
  for (const key of ['name', 'ip'] as const) {
    const values = members.map((m) => m[key])
    t.equal(new Set(values).size, values.length, `distinct ${key}s`)
  }
  const read = new Set(
    [...job.text.matchAll(/group\.value\.(\w+)|lookup\(group\.value, "(\w+)"/g)].map((m) => m[1] ?? m[2]),
  )
  for (const m of members) {
    for (const key of Object.keys(m)) t.ok(read.has(key), `member key ${key} is one the job reads`)
    t.match(m.data_dir, /^\/[^:]*$/, 'data_dir is an absolute host path without a colon')
  }
  t.ok(
    varsFile.text.includes(`nomad var put ${vars.secrets_path}`),
    'the example says where the secrets go, at the path the template reads',
  )
})

t.test('the README explains the job at the same path', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  t.match(readme, /^## Running on Nomad$/m)
  t.ok(readme.includes(`nomad var put ${vars.secrets_path}`))
})
