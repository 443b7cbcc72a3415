// Backups with an S3 repository: s3rver over HTTPS on loopback (a throwaway certificate that pgBackRest
// trusts through S3CAFILE). The leader archives and backs up into the bucket, and a member whose data
// directory is gone is rebuilt from the bucket, not from the leader; a restore to a time after the last
// archived WAL is refused after reading the bucket's newest segment.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { BACKUP_PATHS } from '../../cook/backup.js'
import { backupInfo, backupScript, pgbackrest } from '../../scripts/lib/backup.js'
import type { Member } from '../../scripts/lib/cluster.js'
import { startLocalS3 } from '../../scripts/lib/s3.js'
import { runRestorer, utc } from './restorer.js'
import { since, startCluster } from './setup.js'

const SCOPE = 'e2e-s3'

t.test(
  'pgBackRest with an S3 repository over HTTPS: archive, backup, a replica from the bucket',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-s3rver-'))
    const s3 = await startLocalS3(dir)
    t.teardown(async () => {
      await s3.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const s3Params = {
      BACKUPREPO: `s3://${s3.bucket}/${SCOPE}`,
      S3ENDPOINT: s3.endpoint,
      S3KEY: s3.key,
      S3SECRET: s3.secret,
      S3URISTYLE: 'path',
      S3CAFILE: s3.caFile,
    }
    const c = await startCluster(t, {
      scope: SCOPE,
      block: '127.63',
      backups: true,
      size: 2,
      params: s3Params,
    })
    const { leader, replicas } = await c.waitFormed()
    const replica = replicas[0] as Member
    const conf = statSync(join(leader.root, BACKUP_PATHS.conf))
    t.equal(conf.mode & 0o777, 0o600, 'pgbackrest.conf, which holds the S3 secret, is 0600')
    await c.query(c.memberConn(leader), 'CREATE TABLE t AS SELECT generate_series(1, 10000) AS n')

    let t0 = Date.now()
    const full = await backupScript(leader, 'full')
    t.equal(full.code, 0, `full backup into the bucket: ${full.stderr}`)
    t.comment(`full backup over HTTPS to s3rver in ${since(t0)}`)
    const info = await backupInfo(leader, SCOPE)
    t.equal(info.backups.length, 1, 'pgbackrest info lists the backup in the bucket')
    t.equal(info.cipher, 'aes-256-cbc', 'and the bucket is encrypted with BACKUPCIPHERPASS')
    const check = await pgbackrest(leader, SCOPE, ['check'])
    t.equal(check.code, 0, `pgbackrest check: WAL archived into the bucket: ${check.stderr}`)
    // The restore's refusal of a target after the archive reads the newest segment from the bucket.
    const archivedBy = Date.now()
    const late = await runRestorer(t, {
      ...s3Params,
      BACKUPCIPHERPASS: c.cipherPass,
      RESTORETIME: utc(archivedBy),
      RESTORESTANZA: SCOPE,
    })
    t.equal(late.code, 1, 'a restore to a time after the last archived WAL is refused')
    t.match(
      late.stderr,
      /after the last archived WAL: the newest archived transaction ended at \S+ \S+\+00 \(segment [0-9A-F]{24}\)/,
      'naming the newest transaction in the bucket',
    )
    t.notOk(late.restored, 'before anything is restored')

    await c.stop(replica)
    rmSync(replica.dataDir, { recursive: true, force: true })
    t0 = Date.now()
    c.startMember(replica)
    await c.waitFormed()
    t.comment(`${replica.name} rebuilt from the bucket in ${since(t0)}`)
    t.match(c.patroniLog(replica), /replica has been created using pgbackrest/, 'the replica came from S3')
    const rows = await c.query(c.memberConn(replica), 'SELECT count(*) FROM t')
    t.same(rows, [['10000']], 'with the rows')
  },
)
