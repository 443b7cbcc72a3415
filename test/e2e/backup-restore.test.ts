// Backups and point-in-time recovery with pgBackRest, path repository (a directory the members share).
// One cluster carries every scenario: timestamped rows written continuously, a full backup, an unplanned
// failover with the killed leader back at once (rewound; its abandoned-timeline WAL kept out of the
// archive, both replicas streaming), more rows, DROP TABLE at a recorded time, a second backup on the new
// leader; a member whose data is gone comes back as a new replica built from the repository; then a new
// cluster is created from the repository as of one second before the DROP, and must hold exactly the rows
// that existed then. That restore replays WAL from the first backup across the failover: a gap in the
// archive would fail it.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { backupInfo, backupScript, pgbackrest } from '../../scripts/lib/backup.js'
import { Cluster, type Member } from '../../scripts/lib/cluster.js'
import { sleep } from '../../scripts/lib/procs.js'
import { runRestorer, utc } from './restorer.js'
import { since, startCluster } from './setup.js'

const SCOPE = 'e2e-pitr'

/** Inserts a row (id, clock_timestamp()) through :5000 again and again; failed inserts are retried later. */
function startTicks(c: Cluster) {
  let running = true
  let acked = 0
  const loop = (async () => {
    while (running) {
      try {
        await c.query(c.primaryConn(), 'INSERT INTO ticks DEFAULT VALUES')
        acked++
      } catch {
        await sleep(100)
      }
    }
  })()
  return {
    acked: () => acked,
    stop: async () => {
      running = false
      await loop
    },
  }
}

t.test(
  'pgBackRest: backups on the leader, a replica from the repository, PITR to a new cluster',
  async (t) => {
    const c = await startCluster(t, { scope: SCOPE, block: '127.61', backups: true })
    const { leader: first, replicas } = await c.waitFormed()
    await c.waitPrimaryRoute(first)
    const replica = replicas[0] as Member
    await c.query(
      c.primaryConn(),
      'CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())',
    )
    const ticks = startTicks(c)

    // Backups run on the leader only: a replica refuses `cook backup`, and its cron job does nothing.
    const refused = await backupScript(replica, 'full')
    t.equal(refused.code, 1, 'the backup script refuses on a replica')
    t.match(refused.stderr, /refusing: this member is not the leader/, 'and says why')
    const skipped = await backupScript(replica, 'full', true)
    t.equal(skipped.code, 0, 'the scheduled run on a replica exits 0 without a backup')

    let t0 = Date.now()
    const full = await backupScript(first, 'full')
    t.equal(full.code, 0, `full backup on the leader: ${full.stderr}`)
    t.comment(`full backup on ${first.name} in ${since(t0)}`)
    let info = await backupInfo(first, SCOPE)
    t.equal(info.backups.length, 1, 'the repository holds one backup, none from the replica')
    t.equal(info.backups[0]?.type, 'full')
    // Encrypted at rest (BACKUPCIPHERPASS): every file of the repository is OpenSSL's salted format, so the
    // backup's data files, the WAL and the info files are readable only with the passphrase.
    t.equal(info.cipher, 'aes-256-cbc', 'pgbackrest info: the stanza is encrypted')
    const repoFiles = filesUnder(c.repoDir)
    const clear = repoFiles.filter((f) => readFileSync(f).subarray(0, 8).toString('latin1') !== 'Salted__')
    t.ok(repoFiles.length > 10, `the repository has files (${repoFiles.length})`)
    t.same(clear, [], 'none of them is unencrypted: backup, WAL, manifest and info files all start Salted__')
    const backupInfoFile = join(c.repoDir, 'backup', SCOPE, 'backup.info')
    const opened = spawnSync(
      'openssl',
      ['enc', '-d', '-aes-256-cbc', '-md', 'sha1', '-pass', 'env:PASS', '-in', backupInfoFile],
      { encoding: 'utf8', env: { PATH: process.env.PATH, PASS: c.cipherPass } },
    )
    t.match(
      opened.stdout,
      /^\[backrest\]$/m,
      'openssl opens backup.info with BACKUPCIPHERPASS, nothing else does',
    )
    await sleep(1500)

    // An unplanned failover between the two backups, and the killed leader back at once with its data.
    t0 = Date.now()
    await c.kill(first)
    const next = await c.waitNewLeader(first)
    t.comment(`leader ${first.name} killed -> ${next.name} leads after ${since(t0)}`)
    const third = c.members.find((m) => m !== first && m !== next) as Member
    t0 = Date.now()
    c.startMember(first)
    await sleep(2000)
    await ticks.stop()
    // Before pg_rewind, Patroni archives what the old leader marked ready: its last segment of the old
    // timeline, which ends with records written after the fork. In the archive, a replica still on the old
    // timeline would replay it past the fork and never follow the new leader (the bug this guards).
    const formedAfter = await c.waitFormed()
    t.comment(`${first.name} rejoined, both replicas streaming, ${since(t0)} after its restart`)
    t.equal(formedAfter.leader.name, next.name, 'the new leader stays')
    t.same(
      formedAfter.replicas.map((m) => m.name).sort(),
      [first.name, third.name].sort(),
      'the old leader and the other replica both stream from the new leader',
    )
    t.match(c.patroniLog(first), /running pg_rewind from/, 'the old leader was rewound')
    const fork = await forkSegment(c, next)
    // Patroni itself runs archive_command for the ready WAL before pg_rewind: its output, not the server's log.
    t.match(
      c.patroniOutput(first) + c.serverLog(first),
      new RegExp(`cook-pgbackrest-push: not archiving ${fork}: timeline \\d+ forked from timeline`),
      `the old leader's last segment of the old timeline (${fork}) was refused by archive_command`,
    )
    const probe = join(tmpdir(), `e2e-probe-${process.pid}`)
    const abandoned = await pgbackrest(next, SCOPE, ['archive-get', fork, probe])
    rmSync(probe, { force: true })
    t.equal(abandoned.code, 1, `the archive holds no complete ${fork}: only the new leader's .partial`)
    t.ok(ticks.acked() > 20, `rows written before and after the failover (${ticks.acked()})`)

    // A quiet second before the DROP, so "one second before" falls between two commits.
    const [[count = '', last = ''] = []] = await c.query(
      c.memberConn(next),
      'SELECT count(*), max(id) FROM ticks',
    )
    await sleep(1500)
    const [[dropped = ''] = []] = await c.query(
      c.memberConn(next),
      "DROP TABLE ticks; SELECT extract(epoch FROM now() AT TIME ZONE 'UTC')",
    )
    const dropMs = Math.round(Number(dropped) * 1000)
    const target = utc(dropMs - 1000)
    t.comment(`${count} rows (last id ${last}); DROP TABLE at ${utc(dropMs)}; restore target ${target}`)

    // `pgbackrest check` on the new leader: a WAL switch it pushes and finds in the archive.
    const check = await pgbackrest(next, SCOPE, ['check'])
    t.equal(check.code, 0, `pgbackrest check passes on the new leader: ${check.stderr}`)
    // A target after the newest archived transaction but in the past (the check above archived the DROP):
    // refused by name, instead of a recovery that ends short of its target and a bootstrap Patroni retries.
    const archivedBy = Date.now()
    // The same repository, so the same passphrase.
    const restoreFrom = { BACKUPREPO: c.repoDir, BACKUPCIPHERPASS: c.cipherPass, RESTORESTANZA: SCOPE }
    const tooLate = await runRestorer(t, { ...restoreFrom, RESTORETIME: utc(archivedBy) })
    t.equal(tooLate.code, 1, 'a target after the last archived WAL is refused')
    t.notOk(tooLate.restored, 'before anything is restored')
    const newest = /after the last archived WAL: the newest archived transaction ended at (\S+ \S+)\+00/.exec(
      tooLate.stderr,
    )
    t.ok(newest, `and says when the newest archived transaction ended: ${tooLate.stderr}`)
    const newestMs = Date.parse(`${newest?.[1] ?? ''}Z`.replace(' ', 'T'))
    t.ok(
      newestMs >= dropMs - 1 && newestMs <= archivedBy,
      `which is the DROP or later, and before the target (${newest?.[1]})`,
    )
    const diff = await backupScript(next, 'diff')
    t.equal(diff.code, 0, `a differential backup on the new leader: ${diff.stderr}`)
    info = await backupInfo(next, SCOPE)
    t.same(
      info.backups.map((b) => b.type),
      ['full', 'diff'],
      'two backups, one each side of the failover',
    )

    // A member whose data directory is gone comes back as a new member: cloned from the repository.
    await c.kill(third)
    rmSync(third.dataDir, { recursive: true, force: true })
    // Its log so far tells how it was first created (by basebackup: there was no backup yet).
    const before = c.patroniLog(third).length
    t0 = Date.now()
    c.startMember(third)
    await c.waitFormed()
    t.comment(`${third.name} rebuilt from the repository and streaming in ${since(t0)}`)
    const log = c.patroniLog(third).slice(before)
    t.match(log, /replica has been created using pgbackrest/, 'Patroni created the replica with pgbackrest')
    t.notMatch(log, /replica has been created using basebackup/, 'not with pg_basebackup from the leader')

    // The restore errors: a target before the first backup, and one in the future.
    const tooEarly = await runRestorer(t, {
      ...restoreFrom,
      RESTORETIME: utc((info.backups[0]?.start ?? 0) * 1000 - 60_000),
    })
    t.equal(tooEarly.code, 1, 'a target before the first backup is refused')
    t.match(tooEarly.stderr, /is before the first backup, which ended at/)
    const inFuture = await runRestorer(t, { ...restoreFrom, RESTORETIME: utc(Date.now() + 3_600_000) })
    t.equal(inFuture.code, 1, 'a target in the future is refused')
    t.match(inFuture.stderr, /is after the last archived WAL: it is in the future/)

    // A new cluster from the repository, one second before the DROP; its members join it as replicas.
    t0 = Date.now()
    const r = await startCluster(t, {
      scope: `${SCOPE}-restored`,
      block: '127.62',
      backups: true,
      params: {
        BACKUPREPO: c.repoDir,
        BACKUPCIPHERPASS: c.cipherPass,
        RESTORETIME: target,
        RESTORESTANZA: SCOPE,
        KEKPASS: c.passwords.postgres,
      },
    })
    const formed = await r.waitFormed(180_000)
    t.comment(`restored cluster: leader plus ${formed.replicas.length} streaming replicas in ${since(t0)}`)
    t.equal(formed.replicas.length, 2, 'three members, two of them streaming replicas')
    t.match(r.patroniLog(formed.leader), /Running custom bootstrap script/, 'created by the custom bootstrap')
    const rows = await r.query(r.memberConn(formed.leader), 'SELECT count(*), max(id) FROM ticks')
    t.same(rows, [[count, last]], 'exactly the rows that existed one second before the DROP')
    const onReplica = await r.query(r.memberConn(formed.replicas[0] as Member), 'SELECT count(*) FROM ticks')
    t.same(onReplica, [[count]], 'and the replicas have them too')
    // The restored cluster archives into a stanza of its own, not into the one it came from.
    const own = await pgbackrest(formed.leader, `${SCOPE}-restored`, ['check'])
    t.equal(own.code, 0, `the restored cluster archives into its own stanza: ${own.stderr}`)
  },
)

/** The name of the old timeline's segment that holds the leader's fork point, from its timeline history. */
async function forkSegment(c: Cluster, leader: Member): Promise<string> {
  // One row per line of the history file: parent timeline, switch point, reason (tab-separated).
  const lines = await c.query(
    c.memberConn(leader),
    "SELECT line FROM pg_control_checkpoint(), regexp_split_to_table(pg_read_file('pg_wal/' || " +
      "lpad(upper(to_hex(timeline_id)), 8, '0') || '.history'), E'\\n') AS line WHERE line <> ''",
  )
  const [parent = '', lsn = ''] = lines.at(-1) ?? []
  const [[name = ''] = []] = await c.query(c.memberConn(leader), `SELECT pg_walfile_name('${lsn}'::pg_lsn)`)
  return Number(parent).toString(16).toUpperCase().padStart(8, '0') + name.slice(8)
}

/** Every regular file under a directory. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
}
