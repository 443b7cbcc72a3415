// Carries a plan out under a root directory: directories first, then atomic file writes
// (temp file in the same directory, owner and mode set before the content lands, fsync, rename).
// A run killed at any point leaves every file either old or new, never half written.
//
// Root works inside directories that other users own (postgres, consul, the exporters' users), and such an
// owner can swap an entry for a symlink or a hard link at any moment. So nothing here follows a symlink or
// changes a file through a path: the walk to each parent directory goes one component at a time with the
// process's working directory (lstat, chdir, then check that `.` is the inode that lstat saw: a component
// swapped in between is refused), and every later call names an entry relative to that pinned directory.
// A symlink on the way is followed only in a directory that only root can change (Linux's /var/run).
// Owners and modes are set with fchown/fchmod on a descriptor opened with O_NOFOLLOW (O_DIRECTORY for
// directories); a file with more than one link is never changed in place but replaced by rename, which
// leaves the other link's file alone.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  type Stats,
} from 'node:fs'
import { fchmodSync, fchownSync, readdirSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { createTwoFilesPatch } from 'diff'
import { CookError } from './errors.js'
import type { DirEntry, FileEntry, Plan } from './plan.js'
import { lookupUser, type Account } from './users.js'

export type Status = 'created' | 'changed' | 'unchanged'

export interface Change {
  path: string
  kind: 'dir' | 'file'
  status: Status
  /** Only for owner/mode changes of an otherwise equal file or directory. */
  detail?: string
  owner: string
  mode: number
  diff?: string
}

export interface ApplyOptions {
  root: string
  /** apply: chown to the plan's owners (needs root); record: leave owners, report them in the result. */
  owners: 'apply' | 'record'
  dryRun?: boolean
  /**
   * Fault-injection seam for tests: called with the plan path once a file's new content is complete in
   * its temp file, just before the rename that makes it visible. A throw here is a run killed at that point.
   */
  beforeRename?: (path: string) => void
}

const TEMP_PREFIX = '.cook-tmp-'
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants

export function apply(plan: Plan, opts: ApplyOptions): Change[] {
  const accounts = resolveOwners(plan, opts)
  const changes: Change[] = []
  const cwd = process.cwd()
  try {
    if (!opts.dryRun) mkdirSync(opts.root, { recursive: true, mode: 0o755 })
    for (const dir of plan.dirs) changes.push(ensureDir(dir, opts, accounts.get(dir.owner)))
    for (const file of plan.files) changes.push(writeFile(file, opts, accounts.get(file.owner)))
  } finally {
    process.chdir(cwd)
  }
  return changes
}

/** Every owner must exist before anything is written: a missing user is a plan error, not a half-applied jail. */
function resolveOwners(plan: Plan, opts: ApplyOptions): Map<string, Account | undefined> {
  const owners = new Set([...plan.dirs.map((d) => d.owner), ...plan.files.map((f) => f.owner)])
  const map = new Map<string, Account | undefined>()
  const missing: string[] = []
  for (const name of owners) {
    const account = opts.owners === 'apply' ? lookupUser(name) : undefined
    if (opts.owners === 'apply' && !account) missing.push(name)
    map.set(name, account)
  }
  if (missing.length > 0)
    throw new CookError(
      'APPLY_FAILED',
      `user(s) ${missing.join(', ')} do not exist on this system (install the packages that create them, or use --owners record)`,
    )
  return map
}

/** lstat of an entry (relative to the pinned directory), undefined when there is none. */
function stat(name: string): Stats | undefined {
  try {
    return lstatSync(name)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
}

function ownerDrift(st: { uid: number; gid: number }, account: Account | undefined): boolean {
  return account !== undefined && (st.uid !== account.uid || st.gid !== account.gid)
}

/**
 * Makes the process's working directory the plan directory `dir` under root, one component at a time,
 * never through a symlink. Missing components are created root-owned 0755, like install -d (unless
 * `create` is false: then false says the directory does not exist yet). The root itself is trusted.
 */
function pinDir(root: string, dir: string, create: boolean): boolean {
  if (!create && !stat(root)) return false
  process.chdir(root)
  let here = root
  for (const name of dir.split('/').filter((c) => c !== '')) {
    here = join(here, name)
    if (name === '.' || name === '..') throw new CookError('APPLY_FAILED', `${here}: not a plain path`)
    let st = stat(name)
    if (!st) {
      if (!create) return false
      mkdirSync(name, { mode: 0o755 })
      st = lstatSync(name)
    }
    if (st.isSymbolicLink() && rootOnly(statSync('.'))) {
      // Only root can have put it there (Linux's /var/run -> /run): followed, to where it points now.
      st = statSync(name)
    }
    if (!st.isDirectory())
      throw new CookError(
        'APPLY_FAILED',
        `${here} exists and is not a directory (a symlink is followed only where only root can place it)`,
      )
    process.chdir(name)
    const entered = statSync('.')
    if (entered.dev !== st.dev || entered.ino !== st.ino)
      throw new CookError('APPLY_FAILED', `${here} was replaced while cook entered it; nothing written there`)
  }
  return true
}

/** A directory whose entries only root can change: owned by root, writable by nobody else. */
function rootOnly(st: Stats): boolean {
  return st.uid === 0 && (st.mode & 0o022) === 0
}

/** Opens an existing entry without following a symlink; undefined when there is none. */
function openNoFollow(name: string, flags: number, full: string, kind: string): number | undefined {
  try {
    return openSync(name, flags | O_NOFOLLOW | O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    // ELOOP (FreeBSD: EMLINK) is O_NOFOLLOW meeting a symlink; ENOTDIR is O_DIRECTORY meeting a file.
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'ENOTDIR')
      throw new CookError('APPLY_FAILED', `${full} exists and is not a ${kind} (a symlink is not followed)`)
    throw e
  }
}

function ensureDir(dir: DirEntry, opts: ApplyOptions, account: Account | undefined): Change {
  const full = join(opts.root, dir.path)
  const base = { path: dir.path, kind: 'dir' as const, owner: dir.owner, mode: dir.mode }
  const name = basename(dir.path)
  if (!pinDir(opts.root, dirname(dir.path), !opts.dryRun)) return { ...base, status: 'created' }
  const st = stat(name)
  if (st && !st.isDirectory()) throw new CookError('APPLY_FAILED', `${full} exists and is not a directory`)
  const drifted = (s: Stats) => (s.mode & 0o7777) !== dir.mode || ownerDrift(s, account)
  if (opts.dryRun) {
    if (!st) return { ...base, status: 'created' }
    return drifted(st)
      ? { ...base, status: 'changed', detail: 'owner or mode' }
      : { ...base, status: 'unchanged' }
  }
  if (!st) mkdirSync(name, { mode: 0o700 })
  const fd = openNoFollow(name, O_RDONLY | O_DIRECTORY, full, 'directory')
  if (fd === undefined) throw new CookError('APPLY_FAILED', `${full} disappeared while cook set it up`)
  try {
    const fst = fstatSync(fd)
    if (!st || drifted(fst)) {
      if (account) fchownSync(fd, account.uid, account.gid)
      fchmodSync(fd, dir.mode)
    }
    if (!st) return { ...base, status: 'created' }
    return drifted(fst)
      ? { ...base, status: 'changed', detail: 'owner or mode' }
      : { ...base, status: 'unchanged' }
  } finally {
    closeSync(fd)
  }
}

/** Temp files of a run that was killed midway (in the pinned directory): this run removes them. */
function removeStaleTemps(): void {
  for (const name of readdirSync('.'))
    if (name.startsWith(TEMP_PREFIX))
      try {
        unlinkSync(name)
      } catch {
        // Not a file (someone else's entry of that name): the O_EXCL create below refuses to reuse it.
      }
}

function writeFile(file: FileEntry, opts: ApplyOptions, account: Account | undefined): Change {
  const full = join(opts.root, file.path)
  const name = basename(file.path)
  const base = { path: file.path, kind: 'file' as const, owner: file.owner, mode: file.mode }
  const exists = pinDir(opts.root, dirname(file.path), !opts.dryRun)
  const st = exists ? stat(name) : undefined
  if (st && !st.isFile()) throw new CookError('APPLY_FAILED', `${full} exists and is not a regular file`)
  const fd = st ? openNoFollow(name, O_RDONLY, full, 'regular file') : undefined
  try {
    const fst = fd === undefined ? undefined : fstatSync(fd)
    if (fst && !fst.isFile()) throw new CookError('APPLY_FAILED', `${full} exists and is not a regular file`)
    const old = fd === undefined ? undefined : readFileSync(fd, 'utf8')
    const sameContent = old === file.content
    const drift = fst !== undefined && ((fst.mode & 0o7777) !== file.mode || ownerDrift(fst, account))
    const status: Status = !fst ? 'created' : sameContent && !drift ? 'unchanged' : 'changed'
    const change: Change = { ...base, status }
    if (status === 'changed' && sameContent) change.detail = 'owner or mode'
    if (opts.dryRun) {
      if (!sameContent) {
        const diff = redactedDiff(file, old ?? '')
        if (diff.includes('\n@@')) change.diff = diff
        else change.detail = 'secret values only'
      }
      return change
    }
    if (status === 'unchanged') return change
    if (fd !== undefined && fst !== undefined && sameContent && fst.nlink === 1) {
      // Only owner or mode drifted: fix them on the open file, the content is already right. A file with
      // another link (one that names, say, /etc/master.passwd) is replaced below instead.
      if (account) fchownSync(fd, account.uid, account.gid)
      fchmodSync(fd, file.mode)
      return change
    }
    replaceFile(file, name, opts, account)
    return change
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Temp file (O_EXCL, O_NOFOLLOW) in the pinned directory, owner and mode on its descriptor, fsync, rename. */
function replaceFile(file: FileEntry, name: string, opts: ApplyOptions, account: Account | undefined): void {
  removeStaleTemps()
  const temp = `${TEMP_PREFIX}${process.pid}-${name}`
  const fd = openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
  try {
    if (account) fchownSync(fd, account.uid, account.gid)
    fchmodSync(fd, file.mode)
    writeSync(fd, file.content)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    unlinkSync(temp)
    throw e
  }
  closeSync(fd)
  opts.beforeRename?.(file.path)
  renameSync(temp, name)
  syncDir()
}

function syncDir(): void {
  const fd = openSync('.', O_RDONLY | O_DIRECTORY)
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** A unified diff where the value of every secret-bearing line is masked, on both sides. */
export function redactedDiff(file: FileEntry, old: string): string {
  const mask = (text: string) =>
    file.secret
      ? text === ''
        ? ''
        : '<redacted>\n'
      : file.secretLines
        ? text
            .split('\n')
            .map((line) => {
              if (!file.secretLines?.test(line)) return line
              const masked = line.replace(/([:=]\s*|PASSWORD\s+).*$/, '$1<redacted>')
              // A line that is all secret (a password file) has no key to keep.
              return masked === line ? '<redacted>' : masked
            })
            .join('\n')
        : text
  return createTwoFilesPatch(file.path, file.path, mask(old), mask(file.content), '', '', { context: 2 })
}
