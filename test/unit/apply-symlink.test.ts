// apply() as root in directories that another user owns: that user may swap an entry for a symlink (or a
// hard link) between cook's lstat and its next call. The swap is made deterministic here: lstatSync is
// wrapped (node:module's syncBuiltinESMExports makes cook's named import see the wrapper), and right after
// the real lstat of the chosen entry the wrapper renames the entry away and puts a symlink to a victim in
// its place. Whatever cook does then, the victim keeps its mode, content and directory listing.
import fs, {
  chownSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { join, resolve } from 'node:path'
import t from 'tap'
import { apply } from '../../cook/apply.js'
import type { Plan } from '../../cook/plan.js'
import { tempDir } from '../helpers.js'

const realLstat = fs.lstatSync
/** node:fs's default export, whose properties syncBuiltinESMExports copies into the named exports. */
const mutableFs = fs as { lstatSync: typeof fs.lstatSync }

/** Runs `act` once, right after the real lstat of `target` (an absolute path), however cook names it. */
function afterLstatOf(target: string, act: () => void): { fired: () => boolean; restore: () => void } {
  let fired = false
  mutableFs.lstatSync = ((path: fs.PathLike, o?: fs.StatSyncOptions) => {
    const r = realLstat(path, o)
    if (!fired && resolve(String(path)) === target) {
      fired = true
      act()
    }
    return r
  }) as typeof fs.lstatSync
  syncBuiltinESMExports()
  return {
    fired: () => fired,
    restore: () => {
      mutableFs.lstatSync = realLstat
      syncBuiltinESMExports()
    },
  }
}

/** The attacker's move: the entry goes away, a symlink to the victim takes its name. */
const swapForSymlink = (entry: string, victim: string) => () => {
  renameSync(entry, `${entry}.moved`)
  symlinkSync(victim, entry)
}

const file = (path: string, content: string, mode: number) =>
  ({ path, content, mode, owner: 'postgres', section: 'patroni', format: 'text' }) as const

const mode = (p: string) => statSync(p).mode & 0o7777

t.test('a file swapped for a symlink after lstat: the target keeps its mode', async (t) => {
  const dir = tempDir(t, 'apply-swap-')
  const root = join(dir, 'jail')
  const victim = join(dir, 'master.passwd')
  const content = 'root:*:0:0::0:0:Charlie &:/root:/bin/sh\n'
  fs.writeFileSync(victim, content, { mode: 0o644 })
  const pl: Plan = {
    dirs: [{ path: '/etc/patroni', mode: 0o750, owner: 'postgres' }],
    files: [file('/etc/patroni/member.key', content, 0o600)],
    rcConf: {},
    services: [],
  }
  apply(pl, { root, owners: 'record' })
  // Only the mode drifts: cook would fix it in place (the content is already right).
  const entry = join(root, '/etc/patroni/member.key')
  fs.chmodSync(entry, 0o644)
  const hook = afterLstatOf(entry, swapForSymlink(entry, victim))
  let error: unknown
  try {
    apply(pl, { root, owners: 'record' })
  } catch (e) {
    error = e
  } finally {
    hook.restore()
  }
  t.ok(hook.fired(), 'the swap happened between lstat and the next call')
  t.equal(mode(victim), 0o644, 'the victim keeps its mode')
  t.equal(readFileSync(victim, 'utf8'), content, 'and its content')
  t.match(String(error), /member\.key exists and is not a regular file/, 'cook refuses and says where')
})

t.test('a directory swapped for a symlink after lstat: the target keeps its mode', async (t) => {
  const dir = tempDir(t, 'apply-swap-')
  const root = join(dir, 'jail')
  const victim = join(dir, 'etc')
  mkdirSync(victim, { mode: 0o755 })
  fs.chmodSync(victim, 0o755)
  const pl: Plan = {
    dirs: [
      { path: '/var/db/consul', mode: 0o750, owner: 'consul' },
      { path: '/var/db/consul/raft', mode: 0o750, owner: 'consul' },
    ],
    files: [],
    rcConf: {},
    services: [],
  }
  apply(pl, { root, owners: 'record' })
  const entry = join(root, '/var/db/consul/raft')
  fs.chmodSync(entry, 0o755)
  const hook = afterLstatOf(entry, swapForSymlink(entry, victim))
  let error: unknown
  try {
    apply(pl, { root, owners: 'record' })
  } catch (e) {
    error = e
  } finally {
    hook.restore()
  }
  t.ok(hook.fired())
  t.equal(mode(victim), 0o755, 'the victim directory keeps its mode')
  t.match(String(error), /raft exists and is not a directory/)
})

t.test(
  'a parent directory swapped for a symlink: nothing is written where it points',
  { skip: process.getuid?.() !== 0 && 'needs root (chown)' },
  async (t) => {
    const dir = tempDir(t, 'apply-swap-')
    const root = join(dir, 'jail')
    const victim = join(dir, 'etc')
    mkdirSync(victim)
    const pl: Plan = {
      dirs: [{ path: '/usr/local/etc/patroni', mode: 0o750, owner: 'postgres' }],
      files: [file('/usr/local/etc/patroni/tls/member.key', 'key\n', 0o600)],
      rcConf: {},
      services: [],
    }
    apply(pl, { root, owners: 'record' })
    // patroni/ belongs to another user (as postgres owns it in the jail), who replaces tls/, its own entry,
    // by a symlink to a directory cook writes nothing to.
    chownSync(join(root, '/usr/local/etc/patroni'), 65534, 65534)
    const entry = join(root, '/usr/local/etc/patroni/tls')
    fs.writeFileSync(join(entry, 'member.key'), 'old key\n', { mode: 0o600 })
    const hook = afterLstatOf(entry, swapForSymlink(entry, victim))
    let error: unknown
    try {
      apply(pl, { root, owners: 'record' })
    } catch (e) {
      error = e
    } finally {
      hook.restore()
    }
    t.ok(hook.fired())
    t.same(readdirSync(victim), [], 'no file created in the directory the symlink names')
    t.match(String(error), /tls was replaced while cook entered it/)
  },
)

t.test('a symlink that only root can have placed is followed (Linux: /var/run -> /run)', async (t) => {
  const dir = tempDir(t, 'apply-swap-')
  const root = join(dir, 'jail')
  mkdirSync(join(root, 'var'), { recursive: true, mode: 0o755 })
  mkdirSync(join(dir, 'run'), { mode: 0o755 })
  symlinkSync(join(dir, 'run'), join(root, 'var/run'))
  const pl: Plan = {
    dirs: [{ path: '/var/run/node_exporter', mode: 0o750, owner: 'nodeexport' }],
    files: [],
    rcConf: {},
    services: [],
  }
  apply(pl, { root, owners: 'record' })
  t.equal(mode(join(dir, 'run/node_exporter')), 0o750)
  // The same link in a directory another user can write is refused.
  fs.chmodSync(join(root, 'var'), 0o777)
  t.throws(() => apply(pl, { root, owners: 'record' }), /var\/run exists and is not a directory/)
})

t.test('a hard link to another file is replaced, never changed in place', async (t) => {
  const dir = tempDir(t, 'apply-swap-')
  const root = join(dir, 'jail')
  const victim = join(dir, 'master.passwd')
  const content = 'same content\n'
  fs.writeFileSync(victim, content, { mode: 0o644 })
  const pl: Plan = {
    dirs: [{ path: '/etc/patroni', mode: 0o750, owner: 'postgres' }],
    files: [file('/etc/patroni/member.key', content, 0o600)],
    rcConf: {},
    services: [],
  }
  apply(pl, { root, owners: 'record' })
  const entry = join(root, '/etc/patroni/member.key')
  fs.unlinkSync(entry)
  linkSync(victim, entry)
  const changes = apply(pl, { root, owners: 'record' })
  t.equal(changes.find((c) => c.path === '/etc/patroni/member.key')?.status, 'changed')
  t.equal(mode(victim), 0o644, 'the other link keeps its mode')
  t.equal(mode(entry), 0o600, "the plan's file has its own inode with the plan's mode")
  t.equal(statSync(victim).nlink, 1)
})
