// The cook-restore script on its own: a one-member cluster rendered (never started) with RESTORETIME, and
// the script run as Patroni runs it for the custom bootstrap. For the refusals, which need no cluster.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BACKUP_PATHS } from '../../cook/backup.js'
import type { RawParams } from '../../cook/params.js'
import { runAsPostgres } from '../../scripts/lib/backup.js'
import { Cluster, type Member } from '../../scripts/lib/cluster.js'

/** A point in time as RESTORETIME takes it, from a Date.now() value. */
export const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00')

/**
 * Runs cook-restore rendered with `params` (the repository, RESTORETIME, RESTORESTANZA) into a fresh data
 * directory; says whether it restored anything there.
 */
export async function runRestorer(t: { teardown: (fn: () => void) => void }, params: RawParams) {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-restorer-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const one = new Cluster({ scope: 'e2e-restorer', dir, net: '127.0.99', size: 1, params })
  const m = one.members[0] as Member
  const r = await runAsPostgres([
    join(m.root, BACKUP_PATHS.restoreScript),
    '--scope=x',
    `--datadir=${m.dataDir}`,
  ])
  return { ...r, restored: existsSync(join(m.dataDir, 'PG_VERSION')) }
}
