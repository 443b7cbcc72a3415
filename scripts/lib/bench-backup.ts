// The bench's backup section: backup and restore seconds per GB with pgBackRest (and pg_basebackup beside
// it), a replica built from the repository vs from the leader, and the RPO measured under a steady write
// load: the age of the newest archived WAL when the leader is killed, against archive_timeout.
import { chownSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { lookupUser } from '../../cook/users.js'
import type { RawParams } from '../../cook/params.js'
import { backupInfo, backupScript, pgbackrest, runAsPostgres } from './backup.js'
import { type Cluster, FAST, type Member } from './cluster.js'
import { PG_BIN, query, writePgpass } from './pg.js'
import { sleep } from './procs.js'
import { Writer } from './writer.js'

export interface BackupBenchContext {
  runs: number
  quick: boolean
  withCluster: <T>(label: string, params: RawParams, fn: (c: Cluster) => Promise<T>) => Promise<T>
  record: (
    name: string,
    unit: string,
    samples: number[],
    target?: { text: string; ok: (median: number) => boolean },
    note?: string,
  ) => unknown
}

const GB = 1024 ** 3
const ARCHIVE_TIMEOUT = 10

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = Date.now()
  await fn()
  return (Date.now() - t0) / 1000
}

function must(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what}: ${r.stderr.trim()}`)
}

/** An empty directory owned by postgres, for a restore or a pg_basebackup. */
function postgresDir(path: string): string {
  mkdirSync(path, { mode: 0o700 })
  const pg = lookupUser('postgres')
  if (pg) chownSync(path, pg.uid, pg.gid)
  return path
}

/** Seconds until `m`, its data directory gone, is a streaming replica again; Patroni's log says how. */
async function rebuild(c: Cluster, m: Member): Promise<{ s: number; method: string }> {
  await c.stop(m)
  rmSync(m.dataDir, { recursive: true, force: true })
  const before = c.patroniLog(m).length
  const s = await timed(async () => {
    c.startMember(m)
    await c.waitFormed(600_000)
  })
  const method = /replica has been created using (\w+)/.exec(c.patroniLog(m).slice(before))?.[1] ?? '?'
  return { s, method }
}

export async function benchBackup(ctx: BackupBenchContext): Promise<void> {
  console.log(`backups with pgBackRest (path repository, archive_timeout ${ARCHIVE_TIMEOUT} s):`)
  const rows = ctx.quick ? 1_000_000 : 4_000_000
  const params: RawParams = {
    ...FAST,
    ARCHIVETIMEOUT: String(ARCHIVE_TIMEOUT),
  }
  await ctx.withCluster('backup', params, async (c) => {
    await c.start()
    const { leader, replicas } = await c.waitFormed(180_000)
    await query(
      c.memberConn(leader),
      `CREATE TABLE bench_data AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, ${rows}) g`,
      { pgpass: c.pgpass, timeout: 900_000 },
    )
    // pg_basebackup runs as postgres, which cannot read the cluster's root-owned pgpass.
    const replPass = join(c.opts.dir, 'pgpass-replicator')
    writePgpass(replPass, { replicator: c.passwords.replicator })
    const pgUser = lookupUser('postgres')
    if (pgUser) chownSync(replPass, pgUser.uid, pgUser.gid)
    const backupS: number[] = []
    const restoreS: number[] = []
    const basebackupS: number[] = []
    let size = 0
    const runs = Math.max(1, Math.min(ctx.runs, 3))
    for (let i = 0; i < runs; i++) {
      backupS.push(await timed(async () => must(await backupScript(leader, 'full'), 'full backup')))
      const info = await backupInfo(leader, c.opts.scope)
      size = info.backups.at(-1)?.size ?? 0
      const target = postgresDir(join(c.opts.dir, `restore-${i}`))
      restoreS.push(
        await timed(async () =>
          must(
            await pgbackrest(leader, c.opts.scope, [`--pg1-path=${target}`, '--type=none', 'restore']),
            'restore',
          ),
        ),
      )
      rmSync(target, { recursive: true, force: true })
      const bb = postgresDir(join(c.opts.dir, `basebackup-${i}`))
      basebackupS.push(
        await timed(async () =>
          must(
            await runAsPostgres([
              'env',
              `PGPASSFILE=${replPass}`,
              `${PG_BIN}/pg_basebackup`,
              `--host=${leader.ip}`,
              '--username=replicator',
              `--pgdata=${bb}`,
              '--wal-method=stream',
              '--checkpoint=fast',
            ]),
            'pg_basebackup',
          ),
        ),
      )
      rmSync(bb, { recursive: true, force: true })
    }
    const gb = size / GB
    const note = `${(size / 1048576).toFixed(0)} MB database`
    ctx.record(
      'pgBackRest full backup',
      's/GB',
      backupS.map((s) => s / gb),
      undefined,
      note,
    )
    ctx.record(
      'pgBackRest restore',
      's/GB',
      restoreS.map((s) => s / gb),
      undefined,
      note,
    )
    ctx.record(
      'pg_basebackup (for comparison)',
      's/GB',
      basebackupS.map((s) => s / gb),
      undefined,
      note,
    )

    // A replica from the repository, then (repository moved away) from the leader with pg_basebackup.
    const replica = replicas[0] as Member
    const fromRepo = await rebuild(c, replica)
    const away = `${c.repoDir}.away`
    renameSync(c.repoDir, away)
    let fromLeader: { s: number; method: string }
    try {
      fromLeader = await rebuild(c, replica)
    } finally {
      renameSync(away, c.repoDir)
    }
    ctx.record(`new replica from the repository (${fromRepo.method})`, 's', [fromRepo.s], undefined, note)
    ctx.record(`new replica from the leader (${fromLeader.method})`, 's', [fromLeader.s], undefined, note)

    // RPO: the age of the newest archived WAL when the leader dies under a steady write load.
    const rpo: number[] = []
    const writer = new Writer(c, 'bench_rpo')
    await writer.start()
    try {
      for (let i = 0; i < Math.max(1, Math.min(ctx.runs, 3)); i++) {
        const { leader: current } = await c.waitFormed(180_000)
        await c.waitPrimaryRoute(current, 60_000)
        await sleep((ARCHIVE_TIMEOUT + 5) * 1000)
        const [[age = ''] = []] = await c.query(
          c.memberConn(current),
          'SELECT extract(epoch FROM clock_timestamp() - last_archived_time) FROM pg_stat_archiver',
        )
        await c.kill(current)
        rpo.push(Number(age))
        await c.waitNewLeader(current, 180_000)
        c.startMember(current)
      }
    } finally {
      await writer.stop()
    }
    ctx.record(
      'RPO: newest archived WAL age at leader kill',
      's',
      rpo,
      {
        text: `<= archive_timeout (${ARCHIVE_TIMEOUT} s)`,
        ok: (m) => m <= ARCHIVE_TIMEOUT,
      },
      `steady writes through :5000 (${writer.acked.length} rows)`,
    )
  })
}
