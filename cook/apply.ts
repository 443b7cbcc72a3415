// Carries a plan out under a root directory: directories first, then atomic file writes
// (temp file in the same directory, owner and mode set before the content lands, fsync, rename).
// A run killed at any point leaves every file either old or new, never half written.
import {
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { chmodSync, chownSync, fchmodSync, fchownSync, readdirSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
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

export function apply(plan: Plan, opts: ApplyOptions): Change[] {
  const accounts = resolveOwners(plan, opts)
  const changes: Change[] = []
  for (const dir of plan.dirs) changes.push(ensureDir(dir, opts, accounts))
  for (const file of plan.files) {
    const full = join(opts.root, file.path)
    if (!opts.dryRun) {
      ensureParents(dirname(full), opts.root)
      removeStaleTemps(dirname(full))
    }
    changes.push(writeFile(file, full, opts, accounts.get(file.owner)))
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

function stat(path: string) {
  try {
    return lstatSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
}

function ownerDrift(st: { uid: number; gid: number }, account: Account | undefined): boolean {
  return account !== undefined && (st.uid !== account.uid || st.gid !== account.gid)
}

function ensureDir(dir: DirEntry, opts: ApplyOptions, accounts: Map<string, Account | undefined>): Change {
  const full = join(opts.root, dir.path)
  const account = accounts.get(dir.owner)
  const st = stat(full)
  const base = { path: dir.path, kind: 'dir' as const, owner: dir.owner, mode: dir.mode }
  if (st && !st.isDirectory()) throw new CookError('APPLY_FAILED', `${full} exists and is not a directory`)
  const modeDrift = st !== undefined && (st.mode & 0o7777) !== dir.mode
  const drift = st !== undefined && (modeDrift || ownerDrift(st, account))
  if (!opts.dryRun) {
    if (!st) {
      ensureParents(dirname(full), opts.root)
      mkdirSync(full, { mode: 0o700 })
    }
    if (!st || drift) {
      if (account) chownSync(full, account.uid, account.gid)
      chmodSync(full, dir.mode)
    }
  }
  if (!st) return { ...base, status: 'created' }
  return drift ? { ...base, status: 'changed', detail: 'owner or mode' } : { ...base, status: 'unchanged' }
}

/** Parent directories that the plan does not list are created root-owned 0755, like install -d. */
function ensureParents(dir: string, root: string): void {
  if (stat(dir)) return
  if (dir.length <= root.length) {
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    return
  }
  ensureParents(dirname(dir), root)
  mkdirSync(dir, { mode: 0o755 })
}

/** Temp files of a run that was killed midway: the next run removes them. */
function removeStaleTemps(dir: string): void {
  for (const name of readdirSync(dir))
    if (name.startsWith(TEMP_PREFIX)) rmSync(join(dir, name), { force: true })
}

function writeFile(file: FileEntry, full: string, opts: ApplyOptions, account: Account | undefined): Change {
  const st = stat(full)
  const base = { path: file.path, kind: 'file' as const, owner: file.owner, mode: file.mode }
  if (st && !st.isFile()) throw new CookError('APPLY_FAILED', `${full} exists and is not a regular file`)
  const old = st ? readFileSync(full, 'utf8') : undefined
  const sameContent = old === file.content
  const drift = st !== undefined && ((st.mode & 0o7777) !== file.mode || ownerDrift(st, account))
  const status: Status = !st ? 'created' : sameContent && !drift ? 'unchanged' : 'changed'
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
  if (sameContent) {
    // Only owner or mode drifted: fix them in place, the content is already right.
    if (account) chownSync(full, account.uid, account.gid)
    chmodSync(full, file.mode)
    return change
  }
  const temp = join(dirname(full), `${TEMP_PREFIX}${process.pid}-${file.path.split('/').pop() ?? 'file'}`)
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  try {
    if (account) fchownSync(fd, account.uid, account.gid)
    fchmodSync(fd, file.mode)
    writeSync(fd, file.content)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    rmSync(temp, { force: true })
    throw e
  }
  closeSync(fd)
  opts.beforeRename?.(file.path)
  renameSync(temp, full)
  syncDir(dirname(full))
  return change
}

function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY)
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
