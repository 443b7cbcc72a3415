// A standby cluster that survives a cut: its standby-leader streams from the primary cluster through the
// permanent slot the primary keeps for it (SLOTS on the primary, STANDBYSLOT on the standby). While the standby
// is away the primary writes and checkpoints well past wal_keep_size; the slot holds the WAL, and the standby
// catches up by streaming, in the same data directory, without a new base backup. Both clusters share one
// pgBackRest repository, and the standby cluster reads the primary's archive (STANDBYSTANZA): after a second
// cut with the slot dropped and the WAL it needs gone from the primary's pg_wal, the standby still catches up,
// through restore_command, again without a new base backup.
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { waitFor } from '../../scripts/lib/wait.js'
import { BACKUP_PATHS } from '../../cook/backup.js'
import { since, startCluster } from './setup.js'

const SLOT = 'standby_dr'
const WAL_KEEP_MB = 16
const PRIMARY_SCOPE = 'e2e-sbprimary'

t.test('a standby cluster follows its primary through a permanent slot and survives a cut', async (t) => {
  const primary = await startCluster(t, {
    scope: PRIMARY_SCOPE,
    block: '127.72',
    size: 1,
    backups: true,
    params: { SLOTS: SLOT, PGPARAMS: `wal_keep_size=${WAL_KEEP_MB}MB` },
  })
  const { leader: source } = await primary.waitFormed()
  // The standby's data is a copy of the primary's, roles and passwords included: the standby cluster's
  // Patroni must log in with the same ones. Its certificates come from the primary cluster's CA, as two
  // clusters of one PKI: each side verifies the other (verify-full against TLSCA).
  const pw = primary.passwords
  const standby = await startCluster(t, {
    scope: 'e2e-sbstandby',
    block: '127.73',
    size: 1,
    ...(primary.tls ? { ca: primary.tls.ca } : {}),
    params: {
      KEKPASS: pw.postgres,
      ADMPASS: pw.admin,
      REPPASS: pw.replicator,
      REWINDPASS: pw.rewinder,
      // The primary cluster's repository, as a dataset both sites mount would be, and its passphrase: one
      // passphrase per repository, whose stanzas this cluster reads (STANDBYSTANZA) and writes.
      BACKUPREPO: primary.repoDir,
      BACKUPCIPHERPASS: primary.cipherPass,
    },
    memberParams: [
      {
        SERVICETAG: 'standby-leader',
        STANDBYHOST: `${source.ip}:5432`,
        STANDBYSLOT: SLOT,
        STANDBYSTANZA: PRIMARY_SCOPE,
      },
    ],
  })
  const { leader: follower } = await standby.waitFormed()
  t.equal((await standby.view()).members[0]?.role, 'standby_leader')

  const onPrimary = (sql: string) => primary.query(primary.memberConn(source), sql)
  const onStandby = (sql: string) => standby.query(standby.memberConn(follower), sql)
  const slot = () =>
    onPrimary(
      `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), ` +
        `(SELECT count(*) FROM pg_ls_waldir() WHERE name = pg_walfile_name(restart_lsn)) ` +
        `FROM pg_replication_slots WHERE slot_name = '${SLOT}'`,
    )
  await onPrimary('CREATE TABLE events (id serial PRIMARY KEY, note text)')
  await onPrimary("INSERT INTO events (note) VALUES ('before the cut')")
  await waitFor(
    'the standby-leader to stream through the slot and replay the first row',
    async () => {
      const receiver = await onStandby('SELECT status, slot_name FROM pg_stat_wal_receiver')
      const rows = await onStandby('SELECT count(*) FROM events').catch(() => [['0']])
      return receiver[0]?.[0] === 'streaming' && receiver[0]?.[1] === SLOT && rows[0]?.[0] === '1'
    },
    { timeout: 60000, interval: 250 },
  )
  t.equal((await slot())[0]?.[0], 't', 'the permanent slot on the primary is in use')
  // The standby-leader's replication connection: TLS, the primary verified against the CA.
  const conninfo = (await onStandby('SHOW primary_conninfo'))[0]?.[0] ?? ''
  t.match(conninfo, /sslmode=verify-full/, "the standby-leader's primary_conninfo verifies the primary")
  t.match(conninfo, /sslrootcert=\S+ca\.crt/, '... against the CA')
  t.same(
    await onPrimary(
      `SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.application_name = '${follower.name}'`,
    ),
    [['t']],
    "the primary sees the standby-leader's walsender connection over TLS",
  )

  // A marker in the standby's data directory: a new base backup would start from an empty directory.
  const marker = join(follower.dataDir, 'cook-e2e-marker')
  writeFileSync(marker, 'the same data directory\n')

  // PostgreSQL's own log (its logging collector's files): what it restored from the archive, and what
  // streaming lacked.
  const pgLog = () => standby.serverLog(follower)
  const logFrom = (offset: number) => pgLog().slice(offset)
  // Through the first cut the standby cannot read the archive (its pgBackRest configuration unreadable, as a
  // repository out of reach would be): the slot alone must carry it.
  const pgbackrestConf = join(follower.root, BACKUP_PATHS.conf)
  await standby.stop(follower)
  chmodSync(pgbackrestConf, 0o000)
  const cut1 = pgLog().length
  const t0 = Date.now()
  for (let i = 0; i < 4 * (WAL_KEEP_MB / 16) + 4; i++)
    await onPrimary(`INSERT INTO events (note) VALUES ('during the cut ${i}'); SELECT pg_switch_wal()`)
  await onPrimary("INSERT INTO events (note) VALUES ('last'); CHECKPOINT")
  const [active, behind, kept] = (await slot())[0] ?? []
  t.equal(active, 'f', 'the standby is cut off')
  t.ok(
    Number(behind) > 2 * WAL_KEEP_MB * 1048576,
    `the slot is ${(Number(behind) / 1048576).toFixed(0)} MB behind: past wal_keep_size (${WAL_KEEP_MB} MB)`,
  )
  t.equal(kept, '1', 'after a checkpoint the WAL the standby needs is still in pg_wal, held by the slot')

  standby.startMember(follower)
  await waitFor(
    'the standby to catch up',
    async () =>
      (await onStandby("SELECT count(*) FROM events WHERE note = 'last'").catch(() => [['0']]))[0]?.[0] ===
      '1',
    { timeout: 90000, interval: 250 },
  )
  t.comment(`the standby caught up ${since(t0)} after the cut began`)
  t.ok(existsSync(marker), 'the same data directory: no new base backup')
  t.same(
    await onStandby('SELECT count(*) FROM events'),
    await onPrimary('SELECT count(*) FROM events'),
    'every row of the primary is on the standby',
  )
  t.notMatch(logFrom(cut1), /requested WAL segment .* has already been removed/)
  t.notMatch(logFrom(cut1), /restored log file/, 'nothing came from the archive: all of it through the slot')
  chmodSync(pgbackrestConf, 0o600)

  // The second cut: the slot is dropped while the standby is away (Patroni 3.0.2 does not notice a permanent
  // slot dropped behind its back), and the primary writes until the segment the standby needs next is gone.
  await standby.stop(follower)
  const needed = (
    await onPrimary(
      `SELECT pg_walfile_name(restart_lsn) FROM pg_replication_slots WHERE slot_name = '${SLOT}'`,
    )
  )[0]?.[0]
  t.ok(needed, `the standby needs ${needed} next`)
  await onPrimary(`SELECT pg_drop_replication_slot('${SLOT}')`)
  const t1 = Date.now()
  await waitFor(
    `${needed} to leave the primary's pg_wal (archived, no slot holding it)`,
    async () => {
      await onPrimary(`INSERT INTO events (note) VALUES ('during the second cut'); SELECT pg_switch_wal()`)
      await onPrimary('CHECKPOINT')
      const left = await onPrimary(`SELECT count(*) FROM pg_ls_waldir() WHERE name = '${needed}'`)
      return left[0]?.[0] === '0'
    },
    { timeout: 60000, interval: 500 },
  )
  await onPrimary("INSERT INTO events (note) VALUES ('after the archive')")
  const cut2 = pgLog().length
  standby.startMember(follower)
  await waitFor(
    'the standby to catch up from the archive',
    async () =>
      (
        await onStandby("SELECT count(*) FROM events WHERE note = 'after the archive'").catch(() => [['0']])
      )[0]?.[0] === '1',
    { timeout: 90000, interval: 250 },
  )
  t.comment(`the standby caught up ${since(t1)} after the second cut began`)
  t.ok(existsSync(marker), 'still the same data directory: no new base backup')
  t.match(
    logFrom(cut2),
    new RegExp(`restored log file "${needed}" from archive`),
    `the standby restored ${needed} from the primary cluster's archive`,
  )
  t.same(
    await onStandby('SELECT count(*) FROM events'),
    await onPrimary('SELECT count(*) FROM events'),
    'every row of the primary is on the standby',
  )
  // With the slot back (as an operator would put it back), streaming takes over from the archive.
  await onPrimary(`SELECT pg_create_physical_replication_slot('${SLOT}', true)`)
  await waitFor(
    'the standby-leader to stream again, through the slot',
    async () => {
      const receiver = await onStandby('SELECT status, slot_name FROM pg_stat_wal_receiver')
      return receiver[0]?.[0] === 'streaming' && receiver[0]?.[1] === SLOT
    },
    { timeout: 30000, interval: 250 },
  )
})
