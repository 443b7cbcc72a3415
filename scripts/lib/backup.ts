// pgBackRest in the development cluster: the shared repository directory, and running the cook's own
// backup script and pgbackrest on a member, as the postgres user, the way cron and `cook backup` do.
import { execFile } from 'node:child_process'
import { chownSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BACKUP_PATHS } from '../../cook/backup.js'
import { lookupUser } from '../../cook/users.js'
import { PGBACKREST_BIN } from './pg.js'
import { asUser } from './procs.js'

const run = promisify(execFile)

/** The repository directory, owned by postgres (a mounted dataset in the jails must be too). */
export function makeRepoDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o750 })
  const pg = lookupUser('postgres')
  if (pg) chownSync(path, pg.uid, pg.gid)
}

export interface MemberRoot {
  name: string
  root: string
}

export interface RunOutput {
  code: number
  stdout: string
  stderr: string
}

/** Runs argv as postgres; resolves with the exit code and output whatever the code. */
export async function runAsPostgres(argv: string[], timeoutMs = 300_000): Promise<RunOutput> {
  const [cmd = '', ...args] = asUser('postgres', argv)
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string }
    return {
      code: typeof err.code === 'number' ? err.code : 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? err.message,
    }
  }
}

/** The member's cook-backup script: what cron runs (--scheduled) and what `cook backup` runs. */
export function backupScript(m: MemberRoot, type: 'full' | 'diff' | 'incr', scheduled = false) {
  return runAsPostgres([join(m.root, BACKUP_PATHS.backupScript), ...(scheduled ? ['--scheduled'] : []), type])
}

/** pgbackrest with the member's rendered configuration (and its pgpass, for commands that connect). */
export function pgbackrest(m: MemberRoot, stanza: string, args: string[], timeoutMs?: number) {
  return runAsPostgres(
    [
      'env',
      `PGPASSFILE=${join(m.root, BACKUP_PATHS.pgpass)}`,
      PGBACKREST_BIN,
      `--config=${join(m.root, BACKUP_PATHS.conf)}`,
      `--stanza=${stanza}`,
      ...args,
    ],
    timeoutMs,
  )
}

export interface BackupInfo {
  label: string
  type: string
  start: number
  stop: number
  /** Bytes of the database at backup time, and of what the repository stored for this backup. */
  size: number
  repoSize: number
}

/** The stanza's backups from `pgbackrest info --output=json`, oldest first, and its archived WAL range. */
export async function backupInfo(
  m: MemberRoot,
  stanza: string,
): Promise<{ backups: BackupInfo[]; walMax: string | undefined; status: string; cipher: string }> {
  const r = await pgbackrest(m, stanza, ['--output=json', 'info'])
  if (r.code !== 0) throw new Error(`pgbackrest info: ${r.stderr.trim()}`)
  const [entry] = JSON.parse(r.stdout) as {
    cipher?: string
    status: { message: string }
    archive?: { max?: string }[]
    backup?: {
      label: string
      type: string
      timestamp: { start: number; stop: number }
      info: { size: number; repository: { delta: number } }
    }[]
  }[]
  return {
    status: entry?.status.message ?? 'no answer',
    cipher: entry?.cipher ?? 'unknown',
    walMax: entry?.archive
      ?.map((a) => a.max)
      .filter(Boolean)
      .pop(),
    backups: (entry?.backup ?? []).map((b) => ({
      label: b.label,
      type: b.type,
      start: b.timestamp.start,
      stop: b.timestamp.stop,
      size: b.info.size,
      repoSize: b.info.repository.delta,
    })),
  }
}

/** One line about the newest backup, for `npm run cluster`. */
export async function lastBackupLine(m: MemberRoot, stanza: string): Promise<string> {
  try {
    const info = await backupInfo(m, stanza)
    const b = info.backups.at(-1)
    if (!b)
      return `no backup yet in stanza ${stanza} (${info.status}); WAL archived up to ${info.walMax ?? 'none'}`
    return (
      `last backup ${b.label} (${b.type}) finished ${new Date(b.stop * 1000).toISOString()}, ` +
      `${(b.size / 1048576).toFixed(1)} MB; WAL archived up to ${info.walMax ?? 'none'}`
    )
  } catch (e) {
    return `backup status unknown: ${(e as Error).message}`
  }
}
