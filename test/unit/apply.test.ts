// apply(): idempotent, repairs drift, converges after a run killed midway, dry-run writes nothing and
// masks secrets, owners applied as root or recorded.
import { spawn } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { apply } from '../../cook/apply.js'
import { CookError } from '../../cook/errors.js'
import { JAIL_LAYOUT, PATHS } from '../../cook/layout.js'
import { validate } from '../../cook/params.js'
import { plan, type Plan } from '../../cook/plan.js'
import { verifierIn, readPriorVerifiers } from '../../cook/prior.js'
import { yaml } from '../../cook/quote.js'
import { lookupUser } from '../../cook/users.js'
import { basicEnv, cook, rootSkip, tempDir } from '../helpers.js'
import { emptySealedPath } from '../sealed.js'

/** Path -> [mode, uid, mtime, content] for everything under root, temp files included. */
function snapshot(root: string): Map<string, [number, number, number, string]> {
  const out = new Map<string, [number, number, number, string]>()
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' }).sort()) {
    const st = statSync(join(root, rel))
    out.set(rel, [
      st.mode & 0o7777,
      st.uid,
      st.mtimeMs,
      st.isFile() ? readFileSync(join(root, rel), 'utf8') : '',
    ])
  }
  return out
}

/** The tree holds exactly what plan() says (content and modes), and no temp file is left anywhere. */
function assertConverged(
  t: Test,
  root: string,
  pl = plan(validate(basicEnv()), JAIL_LAYOUT, readPriorVerifiers(root)),
): void {
  for (const f of pl.files) {
    t.equal(readFileSync(join(root, f.path), 'utf8'), f.content, f.path)
    t.equal(statSync(join(root, f.path)).mode & 0o7777, f.mode, `${f.path} mode`)
  }
  for (const d of pl.dirs) t.equal(statSync(join(root, d.path)).mode & 0o7777, d.mode, `${d.path} mode`)
  const temps = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((p) =>
    p.includes('.cook-tmp-'),
  )
  t.same(temps, [], 'no temp file left')
}

const renderCli = (root: string, env = basicEnv(), ...extra: string[]) =>
  cook(['render', '--root', root, '--owners', 'record', ...extra], env)

t.test('a second render changes nothing and says so', async (t) => {
  const root = join(tempDir(t), 'jail')
  t.equal((await renderCli(root)).code, 0)
  const before = snapshot(root)
  await new Promise((r) => setTimeout(r, 20))
  const again = await renderCli(root)
  t.equal(again.code, 0, again.err)
  const lines = again.out.split('\n')
  const pl = plan(validate(basicEnv()))
  t.equal(lines.length, pl.dirs.length + pl.files.length, 'one line per directory and file')
  t.ok(
    lines.every((l) => l.startsWith('unchanged ')),
    'every entry unchanged',
  )
  t.same(snapshot(root), before, 'no content, mode or mtime changed')
})

t.test('owner and mode drift is repaired, content left alone', async (t) => {
  const root = join(tempDir(t), 'jail')
  const pl = plan(validate(basicEnv()))
  apply(pl, { root, owners: 'record' })
  const yml = join(root, PATHS.patroniYml)
  const mtime = statSync(yml).mtimeMs
  chmodSync(yml, 0o644)
  chmodSync(join(root, PATHS.dataDir), 0o777)
  const changes = apply(pl, { root, owners: 'record' })
  const changed = changes.filter((c) => c.status !== 'unchanged').map((c) => [c.path, c.status, c.detail])
  t.same(changed, [
    [PATHS.dataDir, 'changed', 'owner or mode'],
    [PATHS.patroniYml, 'changed', 'owner or mode'],
  ])
  t.equal(statSync(yml).mode & 0o7777, 0o600)
  t.equal(statSync(join(root, PATHS.dataDir)).mode & 0o7777, 0o700)
  t.equal(statSync(yml).mtimeMs, mtime, 'the content was not rewritten')
})

t.test(
  'as root, owners are applied and owner drift is repaired',
  { skip: rootSkip(process.getuid?.() !== 0 && 'needs root (chown)') },
  async (t) => {
    const root = join(tempDir(t), 'jail')
    // Consul's user does not exist on this machine; an etcd member needs only postgres, root and the
    // exporter's user (here Debian's prometheus, which the prometheus packages create).
    const pl = plan(validate({ ...basicEnv(), DCS: 'etcd', ETCDHOSTS: '10.0.0.2' }), {
      ...JAIL_LAYOUT,
      exporterUser: 'prometheus',
      nodeExporterUser: 'prometheus',
    })
    const pg = lookupUser('postgres')
    t.ok(pg, 'the postgres user exists (scripts/install-deps)')
    apply(pl, { root, owners: 'apply' })
    const yml = join(root, PATHS.patroniYml)
    t.same([statSync(yml).uid, statSync(yml).gid], [pg?.uid, pg?.gid])
    t.equal(statSync(join(root, PATHS.rcPatroni)).uid, 0)
    chownSync(yml, 65534, 65534)
    const changes = apply(pl, { root, owners: 'apply' })
    t.same(
      changes.filter((c) => c.status !== 'unchanged').map((c) => c.path),
      [PATHS.patroniYml],
    )
    t.equal(statSync(yml).uid, pg?.uid)
    t.same(
      apply(pl, { root, owners: 'apply' }).filter((c) => c.status !== 'unchanged'),
      [],
    )
    const missing = join(tempDir(t), 'jail')
    t.throws(
      () => apply(plan(validate(basicEnv())), { root: missing, owners: 'apply' }),
      /consul, pgmonitor do not exist/,
    )
    t.notOk(existsSync(missing), 'a missing user stops apply before anything is written')
  },
)

t.test('owners are recorded under --owners record', async (t) => {
  const root = join(tempDir(t), 'jail')
  const r = await renderCli(root)
  t.match(r.out, /^created\s+0600 postgres \/usr\/local\/etc\/patroni\/patroni\.yml$/m)
  t.match(r.out, /^created\s+0640 consul\s+\/usr\/local\/etc\/consul\.d\/agent\.hcl$/m)
  t.match(r.out, /^created\s+0755 root\s+\/usr\/local\/etc\/rc\.d\/patroni$/m)
  t.equal(statSync(join(root, PATHS.consulAgent)).uid, process.getuid?.(), 'recorded, not applied')
})

t.test('a run killed midway converges when run again', async (t) => {
  const root = join(tempDir(t), 'jail')
  t.equal((await renderCli(root)).code, 0)
  // Half state: a temp file the killed run left, a file cut short, one never written, a directory gone,
  // and a file with the content of another configuration.
  const dir = join(root, '/usr/local/etc/patroni')
  writeFileSync(join(dir, '.cook-tmp-4242-patroni.yml'), 'scope: "half')
  truncateSync(join(root, PATHS.patroniYml), 100)
  rmSync(join(root, PATHS.consulAgent))
  rmSync(join(root, '/mnt/postgres'), { recursive: true })
  writeFileSync(join(root, PATHS.rcPatroni), '#!/bin/sh\n# an older version\n')
  const r = await renderCli(root)
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^changed\s+0600 postgres \/usr\/local\/etc\/patroni\/patroni\.yml$/m)
  t.match(r.out, /^created\s+0640 consul\s+\/usr\/local\/etc\/consul\.d\/agent\.hcl$/m)
  t.match(r.out, /^created\s+0700 postgres \/mnt\/postgres\/data$/m)
  assertConverged(t, root)
})

const AFTER = {
  ...basicEnv(),
  MONPASS: 'm0n-Secret-long-enough',
  SCOPE: 'other',
  DATACENTER: 'dc9',
  TTL: '40',
  STOPTIMEOUT: '45',
}

/** Every file of a plan that differs between two parameter sets: what a reseason rewrites. */
function twoPlans() {
  // MONPASS is given: derived, it would change with SCOPE, and its verifier with it (a random salt).
  const before = plan(validate({ ...basicEnv(), MONPASS: 'm0n-Secret-long-enough' }))
  // SCOPE and TTL are in patroni.yml, DATACENTER is in agent.hcl, STOPTIMEOUT in rc.d/patroni. The role files keep their verifiers (what
  // `cook render` does: readPriorVerifiers) since ADMPASS and MONPASS stay.
  const prior = {
    admin: verifierIn(before.files.find((f) => f.path === PATHS.adminRoleSql)?.content ?? ''),
    monitor: verifierIn(before.files.find((f) => f.path === PATHS.monitorRoleSql)?.content ?? ''),
  }
  const after = plan(validate(AFTER), JAIL_LAYOUT, prior)
  const changed = after.files.filter(
    (f) => before.files.find((b) => b.path === f.path)?.content !== f.content,
  )
  return { before, after, changed }
}

/** Each file of the plans holds wholly the old or wholly the new content (or, new in `after`, is absent). */
function wholly(root: string, before: Plan, after: Plan): Record<string, 'old' | 'new' | 'absent' | 'torn'> {
  const out: Record<string, 'old' | 'new' | 'absent' | 'torn'> = {}
  for (const f of after.files) {
    const full = join(root, f.path)
    const old = before.files.find((b) => b.path === f.path)?.content
    const now = existsSync(full) ? readFileSync(full, 'utf8') : undefined
    out[f.path] = now === undefined ? 'absent' : now === f.content ? 'new' : now === old ? 'old' : 'torn'
  }
  return out
}

class Killed extends Error {
  override name = 'Killed'
}

t.test('interrupted at every write, each file is wholly old or wholly new', async (t) => {
  const { before, after, changed } = twoPlans()
  t.ok(changed.length >= 3, `${changed.length} files change`)
  for (let k = 0; k < changed.length; k++) {
    const root = join(tempDir(t), 'jail')
    apply(before, { root, owners: 'record' })
    const seen: string[] = []
    t.throws(
      () =>
        apply(after, {
          root,
          owners: 'record',
          beforeRename: (path) => {
            // The new content is complete, but not yet visible: the file still holds the old one.
            t.equal(wholly(root, before, after)[path], 'old', `${path}: still old before its rename`)
            seen.push(path)
            if (seen.length === k + 1) throw new Killed()
          },
        }),
      { name: 'Killed' },
    )
    const state = wholly(root, before, after)
    const expected = Object.fromEntries(
      after.files.map((f) => {
        const i = changed.findIndex((c) => c.path === f.path)
        return [f.path, i === -1 || i < k ? 'new' : 'old']
      }),
    )
    t.same(state, expected, `killed at write ${k + 1} (${changed[k]?.path}): earlier files new, the rest old`)
    apply(after, { root, owners: 'record' })
    assertConverged(t, root, after)
  }
})

t.test(
  'a render process killed with SIGKILL in the middle of its writes converges on the next run',
  async (t) => {
    const { before, after, changed } = twoPlans()
    const root = join(tempDir(t), 'jail')
    apply(before, { root, owners: 'record' })
    const ready = join(tempDir(t), 'ready')
    // The driver applies `after` and stops still just before its second rename, where it is killed.
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv.filter((a) => a.includes('@tapjs/typescript')),
        new URL('../fixtures/apply-driver.ts', import.meta.url).pathname,
        JSON.stringify({
          raw: AFTER,
          root,
          ready,
          at: 2,
        }),
      ],
      { stdio: 'ignore', env: { ...process.env, PATH: emptySealedPath() } },
    )
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
    for (let i = 0; i < 400 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50))
    t.ok(existsSync(ready), 'the child reached its second rename')
    child.kill('SIGKILL')
    t.equal(await exited, 'SIGKILL', 'killed, not finished')
    const state = wholly(root, before, after)
    t.equal(state[changed[0]!.path], 'new', 'the first file was renamed into place')
    t.equal(state[changed[1]!.path], 'old', 'the second still old: its new content only in a temp file')
    t.ok(
      Object.values(state).every((s) => s === 'old' || s === 'new'),
      'no file torn',
    )
    const r = await renderCli(root, AFTER)
    t.equal(r.code, 0, r.err)
    assertConverged(t, root, after)
  },
)

t.test('dry-run writes nothing', async (t) => {
  const root = join(tempDir(t), 'jail')
  const r = await renderCli(root, basicEnv(), '--dry-run')
  t.equal(r.code, 0, r.err)
  t.notOk(existsSync(root), 'not even the root')
  t.match(r.out, /^would be created +0600 postgres \/usr\/local\/etc\/patroni\/patroni\.yml$/m)
  mkdirSync(root)
  t.equal((await renderCli(root)).code, 0)
  const before = snapshot(root)
  const changed = await renderCli(root, { ...basicEnv(), TTL: '40' }, '--dry-run')
  t.match(changed.out, /^would be changed 0600 postgres \/usr\/local\/etc\/patroni\/patroni\.yml$/m)
  t.match(changed.out, /^-\s+ttl: 30$/m)
  t.match(changed.out, /^\+\s+ttl: 40$/m)
  t.same(snapshot(root), before, 'an existing jail is not touched')
})

t.test('dry-run diffs mask secrets, old and new', async (t) => {
  const root = join(tempDir(t), 'jail')
  const oldEnv = { ...basicEnv(), KEKPASS: 'old "kek" 1, long enough' }
  const newEnv = {
    ...basicEnv(),
    KEKPASS: 'new "kek" 2, long enough',
    CONSULACL: 'on',
    CONSULTOKEN: 'new-token-2',
    GOSSIPKEY: Buffer.alloc(32, 9).toString('base64'),
    ADMPASS: 'new-adm-3-long-enough',
    CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.5',
  }
  t.equal((await renderCli(root, oldEnv)).code, 0)
  const r = await renderCli(root, newEnv, '--dry-run')
  t.equal(r.code, 0, r.err)
  t.match(
    r.out,
    /^-retry_join {5}= \["10\.0\.0\.2", "10\.0\.0\.3", "10\.0\.0\.4"\]$/m,
    'the diff shows what changed',
  )
  t.match(r.out, /^ encrypt {8}= <redacted>$/m, 'a changed secret in context: masked on both sides')
  t.match(r.out, /^\+ {4}agent = <redacted>$/m, 'an added secret line: masked')
  t.match(r.out, /^\+ {2}token {3}= <redacted>$/m, "a service's token: masked")
  t.match(r.out, /^\+ {2}token: <redacted>$/m)
  t.match(
    r.out,
    /^would be changed 0600 postgres \/usr\/local\/etc\/patroni\/admin-role\.sql \(secret values only\)$/m,
  )
  const secrets = [oldEnv, newEnv].flatMap((env) => {
    const p = validate(env)
    return [p.KEKPASS, p.REPPASS, p.REWINDPASS, p.CONSULTOKEN ?? 'none', p.GOSSIPKEY ?? '', p.ADMPASS]
  })
  for (const s of secrets) {
    t.notOk(r.out.includes(s), 'no secret in the report')
    t.notOk(r.out.includes(yaml(s).slice(1, -1)), 'not even escaped')
  }
  t.notMatch(r.out, /SCRAM-SHA-256/, 'no verifier either')
})

t.test('apply refuses what it cannot replace safely', async (t) => {
  const root = join(tempDir(t), 'jail')
  mkdirSync(join(root, PATHS.patroniYml), { recursive: true })
  t.throws(() => apply(plan(validate(basicEnv())), { root, owners: 'record' }), CookError)
  const r = await renderCli(root)
  t.equal(r.code, 73)
  t.match(r.err, /patroni\.yml exists and is not a regular file/)
  const root2 = join(tempDir(t), 'jail')
  mkdirSync(join(root2, '/mnt'), { recursive: true })
  writeFileSync(join(root2, '/mnt/postgres'), 'a file where a directory belongs')
  t.throws(() => apply(plan(validate(basicEnv())), { root: root2, owners: 'record' }), /not a directory/)
})

t.test('directories the plan does not list are created like install -d', async (t) => {
  const root = join(tempDir(t), 'jail')
  apply(plan(validate(basicEnv())), { root, owners: 'record' })
  t.equal(statSync(join(root, '/usr/local/etc/rc.d')).mode & 0o7777, 0o755)
  t.equal(statSync(root).mode & 0o7777, 0o755)
})
