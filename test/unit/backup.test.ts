// Backups with pgBackRest: the backup parameters' checks, the files the plan adds (pgbackrest.conf read by
// the real pgbackrest, the scripts by shellcheck, patroni.yml by a YAML 1.1 parser), and `cook backup`.
import { spawnSync } from 'node:child_process'
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { BACKUP_PATHS, backupState, checkCron, checkPointInTime } from '../../cook/backup.js'
import { main } from '../../cook/cli.js'
import { ParamError } from '../../cook/errors.js'
import { JAIL_LAYOUT, PATHS, type Layout } from '../../cook/layout.js'
import { validate, type Params } from '../../cook/params.js'
import { plan, type Plan } from '../../cook/plan.js'
import { basicEnv, cook, tempDir } from '../helpers.js'
import { pyyaml } from '../hostile.js'
import { standIns } from '../standins.js'
import { lookupUser } from '../../cook/users.js'
import { makeRepoDir, runAsPostgres } from '../../scripts/lib/backup.js'
import { PGBACKREST_BIN, startPostgres } from '../pg.js'

t.setTimeout(180_000)

const S3 = {
  BACKUPREPO: 's3://pg-backups/prod',
  S3ENDPOINT: '127.0.0.1:1',
  S3KEY: 'AKIA:EXAMPLE#1',
  // Characters that mean something in INI files, shells and YAML: they must arrive as they are.
  S3SECRET: 'wJal=rX#Ut;n/K7"MD\'E$NG`+',
  S3URISTYLE: 'path',
  S3CAFILE: '/usr/local/etc/ssl/s3-ca.pem',
}

/** A passphrase with what INI files, shells, YAML and pgpass files treat specially: it must arrive as it is. */
const CIPHER = `p#s;s=ph"r'a$e \\ %x [global] ü 😀 ${'k'.repeat(16)}`

/** The parameters with these changes; a repository gets CIPHER unless the test says otherwise. */
const params = (over: Record<string, string | undefined> = {}): Params =>
  validate({
    ...basicEnv(),
    ...(over.BACKUPREPO !== undefined && over.BACKUPREPO !== 'off' && over.BACKUPCIPHER !== 'off'
      ? { BACKUPCIPHERPASS: CIPHER }
      : {}),
    ...over,
  } as Record<string, string>)

function failing(over: Record<string, string | undefined>): string[] {
  try {
    params(over)
    return []
  } catch (e) {
    if (!(e instanceof ParamError)) throw e
    return e.problems.map((p) => p.name).sort()
  }
}

const file = (pl: Plan, path: string) => {
  const f = pl.files.find((x) => x.path === path)
  if (!f) throw new Error(`${path} is not in the plan`)
  return f
}

/** pgbackrest.conf as key=value per section, the way pgBackRest's INI reader splits it. */
function readIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  let section = ''
  for (const line of text.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line)
    if (s) out[(section = s[1] ?? '')] = {}
    else if (line !== '' && !line.startsWith('#')) {
      const i = line.indexOf('=')
      ;(out[section] ??= {})[line.slice(0, i)] = line.slice(i + 1)
    }
  }
  return out
}

t.test('the backup parameters: all problems at once, named', async (t) => {
  t.same(failing({}), [], 'backups off by default')
  t.equal(params().BACKUPREPO.type, 'off')
  t.same(failing({ BACKUPREPO: '/mnt/backups' }), [])
  t.same(failing(S3), [])
  t.same(
    failing({ BACKUPREPO: 's3://pg-backups' }),
    ['S3ENDPOINT', 'S3KEY', 'S3SECRET'],
    'S3 needs all three',
  )
  t.same(failing({ BACKUPREPO: 'mnt/backups' }), ['BACKUPREPO'], 'a relative path')
  t.same(failing({ BACKUPREPO: '/mnt/../etc' }), ['BACKUPREPO'])
  t.same(failing({ ...S3, BACKUPREPO: 's3://Bad_Bucket' }), ['BACKUPREPO'])
  t.same(failing({ BACKUPREPO: '/mnt/b', S3KEY: 'x' }), ['S3KEY'], 'S3 settings without an S3 repository')
  t.same(
    failing({ ...S3, S3SECRET: 'two words' }),
    ['S3SECRET'],
    'blanks cannot be written in pgbackrest.conf',
  )
  t.same(failing({ BACKUPFULL: '61 1 * * 0', BACKUPDIFF: 'daily' }), ['BACKUPDIFF', 'BACKUPFULL'])
  t.same(failing({ BACKUPDIFF: 'off' }), [])
  t.same(failing({ ARCHIVETIMEOUT: '5' }), ['ARCHIVETIMEOUT'])
  t.same(failing({ RESTORETIME: '2026-11-30 23:10:05' }), ['RESTORETIME'], 'a time without a zone')
  t.same(failing({ RESTORETIME: '2026-11-30 23:10:05Z' }), ['RESTORETIME'], 'a restore without a repository')
  t.same(failing({ BACKUPREPO: '/b', RESTORETIME: '2026-02-30 23:10:05Z' }), ['RESTORETIME'], 'no such day')
  t.same(failing({ BACKUPREPO: '/b', RESTORESTANZA: 'old' }), ['RESTORESTANZA'], 'a stanza without a time')
  t.same(failing({ BACKUPREPO: '/b', RESTORETIME: '2026-11-30 23:10:05Z', SERVICETAG: 'replica' }), [])
  try {
    params({ ...S3, S3SECRET: 'has a blank', S3KEY: 'another blank' })
  } catch (e) {
    const text = (e as ParamError).lines().join('\n')
    t.notMatch(text, /has a blank|another blank/, 'a rejected S3 secret is never printed')
  }
})

t.test('BACKUPCIPHERPASS: required with a repository unless BACKUPCIPHER=off, and strong', async (t) => {
  const repo = { BACKUPREPO: '/mnt/backups' }
  t.same(failing({ ...repo, BACKUPCIPHERPASS: undefined }), ['BACKUPCIPHERPASS'], 'a repository needs one')
  t.same(failing({ ...S3, BACKUPCIPHERPASS: undefined }), ['BACKUPCIPHERPASS'], 'an S3 one too')
  t.same(failing({ ...repo, BACKUPCIPHER: 'off' }), [], 'unless encryption is turned off by name')
  t.same(
    failing({ ...repo, BACKUPCIPHER: 'off', BACKUPCIPHERPASS: CIPHER }),
    ['BACKUPCIPHERPASS'],
    'not both',
  )
  t.same(failing({ BACKUPCIPHERPASS: CIPHER }), ['BACKUPCIPHERPASS'], 'a passphrase without a repository')
  t.same(failing({ ...repo, BACKUPCIPHER: 'aes-128-cbc' }), ['BACKUPCIPHER'])
  t.same(failing({ ...repo, BACKUPCIPHERPASS: 'k'.repeat(31) }), ['BACKUPCIPHERPASS'], 'shorter than 32')
  t.same(failing({ ...repo, BACKUPCIPHERPASS: 'k'.repeat(32) }), [])
  t.same(
    failing({ ...repo, BACKUPCIPHERPASS: `${CIPHER}\nrepo1-type=s3` }),
    ['BACKUPCIPHERPASS'],
    'a line break',
  )
  t.same(failing({ ...repo, BACKUPCIPHERPASS: `${CIPHER}\t` }), ['BACKUPCIPHERPASS'], 'a control character')
  t.same(
    failing({ ...repo, BACKUPCIPHERPASS: ` ${CIPHER}` }),
    ['BACKUPCIPHERPASS'],
    'pgBackRest trims blanks',
  )
  t.equal(params(repo).BACKUPCIPHER, 'aes-256-cbc', 'encrypted by default')
  try {
    params({ ...repo, BACKUPCIPHERPASS: `${CIPHER}\n` })
    t.fail('refused')
  } catch (e) {
    t.notMatch((e as ParamError).lines().join('\n'), /p#s;s/, 'a refused passphrase is never printed')
  }
  // Every start says it, the way TLS=off is said.
  const r = await cook(['check'], { ...basicEnv(), ...repo, BACKUPCIPHER: 'off' })
  t.equal(r.code, 0, r.err)
  t.match(r.err, /warning: BACKUPCIPHER=off: the backup repository is not encrypted/)
  t.match(r.out, /^encryption: OFF \(BACKUPCIPHER=off\)/m)
  const on = await cook(['check'], { ...basicEnv(), ...repo, BACKUPCIPHERPASS: CIPHER })
  t.notMatch(on.err, /BACKUPCIPHER=off/, 'no warning when encrypted')
})

t.test('points in time and cron schedules', async (t) => {
  t.same(checkPointInTime('2026-11-30 23:10:05+00'), {
    value: { text: '2026-11-30 23:10:05.000000+00', epoch: Date.UTC(2026, 10, 30, 23, 10, 5) / 1000 },
  })
  t.same(checkPointInTime('2026-12-01T00:10:05.25+01:00'), {
    value: { text: '2026-11-30 23:10:05.250000+00', epoch: Date.UTC(2026, 10, 30, 23, 10, 5) / 1000 },
  })
  t.same(checkPointInTime('2026-11-30 18:40:05.123456-04:30'), {
    value: { text: '2026-11-30 23:10:05.123456+00', epoch: Date.UTC(2026, 10, 30, 23, 10, 5) / 1000 },
  })
  t.ok('why' in checkPointInTime('yesterday'))
  t.same(checkCron('*/15  0-6,22 1 * 1-5', false), { value: '*/15 0-6,22 1 * 1-5' })
  t.ok('why' in checkCron('@daily', false))
  t.ok('why' in checkCron('* * * *', false))
  t.ok('why' in checkCron('*/0 * * * *', false))
  t.ok('why' in checkCron('off', false), 'full backups cannot be turned off on their own')
})

t.test('backups off: no archive, no pgBackRest files, no cron job; `cook check` says so', async (t) => {
  const pl = plan(params())
  t.notOk(
    pl.files.some((f) => f.section === 'backup'),
    'no backup files',
  )
  // cron itself runs anyway: it runs newsyslog from /etc/crontab.
  t.ok(pl.services.includes('cron'))
  t.notOk(
    pl.files.some((f) => f.path.includes('cron') && !f.path.endsWith('/newsyslog-users')),
    'no cron file but the log rotation as postgres and nodeexport',
  )
  const yml = pyyaml([file(pl, PATHS.patroniYml).content])[0] as Record<string, Record<string, unknown>>
  t.notOk((yml.postgresql?.parameters as Record<string, unknown>).archive_mode, 'no archive_mode')
  t.notOk(yml.postgresql?.create_replica_methods)
  const r = await cook(['check'], basicEnv())
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^backups: OFF \(BACKUPREPO=off\): no WAL archive, no backups, no point-in-time restore/m)
})

t.test('`cook check` says how a restore happens, with and without RESTORETIME', async (t) => {
  const repo = { BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: CIPHER }
  let r = await cook(['check'], { ...basicEnv(), ...repo })
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^backups: pgBackRest, stanza postgresql, repository directory \/mnt\/backups/m)
  t.match(
    r.out,
    /^encryption: aes-256-cbc with BACKUPCIPHERPASS/m,
    '`cook check` says the repository is encrypted',
  )
  t.notOk(r.out.includes(CIPHER) || r.err.includes(CIPHER), 'and never shows the passphrase')
  t.match(r.out, /^BACKUPCIPHERPASS\s+<redacted>/m)
  t.match(
    r.out,
    /^restore: none .* to restore, start a new cluster .*RESTORETIME=.* RESTORESTANZA=postgresql$/m,
  )
  const restore = {
    ...repo,
    SCOPE: 'pg-restored',
    RESTORETIME: '2026-11-30 23:10:05Z',
    RESTORESTANZA: 'postgresql',
  }
  r = await cook(['check'], { ...basicEnv(), ...restore })
  t.equal(r.code, 0, r.err)
  t.match(
    r.out,
    /^restore: if the cluster pg-restored does not exist yet, this member creates it from stanza postgresql as of 2026-11-30 23:10:05\.000000\+00/m,
  )
  r = await cook(['check'], { ...basicEnv(), ...restore, SERVICETAG: 'replica' })
  t.match(r.out, /^restore: .* by its master member; this member \(replica\) joins it as a replica$/m)
})

t.test("a standby cluster reads the primary cluster's archive (STANDBYSTANZA)", async (t) => {
  const standby = {
    SCOPE: 'pg-dr',
    SERVICETAG: 'standby-leader',
    STANDBYHOST: '10.1.0.11',
    BACKUPREPO: '/mnt/backups',
  }
  const dcsOf = (pl: Plan) =>
    (
      pyyaml([file(pl, PATHS.patroniYml).content])[0] as Record<
        string,
        Record<string, Record<string, unknown>>
      >
    ).bootstrap?.dcs as Record<string, Record<string, unknown>>
  const pl = plan(params({ ...standby, STANDBYSTANZA: 'postgresql' }))
  t.equal(
    dcsOf(pl).standby_cluster?.restore_command,
    `'/usr/local/bin/pgbackrest' '--config=${BACKUP_PATHS.conf}' '--stanza=postgresql' archive-get %f "%p"`,
    "standby_cluster's restore_command fetches from the primary's stanza",
  )
  const ini = readIni(file(pl, BACKUP_PATHS.conf).content)
  t.same(Object.keys(ini).sort(), ['global', 'pg-dr', 'postgresql'], "the primary's stanza has a section too")
  t.equal(ini.postgresql?.['pg1-path'], PATHS.dataDir, 'archive-get checks it against this PostgreSQL')
  t.notOk(
    'restore_command' in (dcsOf(plan(params(standby))).standby_cluster ?? {}),
    'without STANDBYSTANZA the standby cluster only streams',
  )
  t.notOk(
    'standby_cluster' in
      dcsOf(plan(params({ ...standby, SERVICETAG: 'replica', STANDBYSTANZA: 'postgresql' }))),
    "a replica of the standby cluster keeps its own recovery_conf: Patroni gives it the leader's standby_cluster",
  )
})

t.test('backups to S3: pgbackrest.conf, patroni.yml, cron, as their readers see them', async (t) => {
  const pl = plan(params({ ...S3, RESTORETIME: '2026-11-30 23:10:05Z', RESTORESTANZA: 'old' }))
  const conf = file(pl, BACKUP_PATHS.conf)
  t.equal(conf.mode, 0o600, 'pgbackrest.conf holds the S3 secret: 0600')
  t.equal(conf.owner, 'postgres')
  const pgpassFile = file(pl, BACKUP_PATHS.pgpass)
  t.equal(pgpassFile.mode, 0o600)
  // KEKPASS only for PostgreSQL's own socket directory: libpq would send it wherever a line's host matches,
  // and "localhost" matches /tmp (FreeBSD's libpq default) and TCP localhost:5432, which a jail user can hold.
  const hosts = pgpassFile.content
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':')[0])
  t.same(hosts, [PATHS.pgSocketDir], 'one line, for the socket directory')
  t.notMatch(pgpassFile.content, /^(localhost|\*|127\.0\.0\.1|::1|\/tmp):/m, 'no localhost, * or /tmp line')
  const ini = readIni(conf.content)
  t.equal(ini.global?.['repo1-s3-key'], S3.S3KEY, 'the key round-trips')
  t.equal(ini.global?.['repo1-s3-key-secret'], S3.S3SECRET, 'the secret round-trips')
  t.equal(ini.global?.['repo1-s3-endpoint'], '127.0.0.1')
  t.equal(ini.global?.['repo1-storage-port'], '1')
  t.equal(ini.global?.['repo1-path'], '/prod')
  t.equal(ini.global?.['repo1-storage-ca-file'], S3.S3CAFILE)
  t.same(Object.keys(ini).sort(), ['global', 'old', 'postgresql'], 'a section per stanza')
  t.equal(ini.postgresql?.['pg1-path'], PATHS.dataDir)
  t.ok(conf.secretLines?.test('repo1-s3-key-secret=x'), 'dry-run diffs mask the secret lines')

  const yml = pyyaml([file(pl, PATHS.patroniYml).content])[0] as Record<string, Record<string, unknown>>
  const pg = yml.postgresql as Record<string, Record<string, unknown>>
  t.equal(pg.parameters?.archive_mode, 'on', 'archive_mode on: only the primary archives')
  t.equal(
    pg.parameters?.archive_command,
    `'${BACKUP_PATHS.archivePush}' "%p"`,
    'archiving goes through the script that keeps an abandoned timeline out of the archive',
  )
  t.match(
    file(pl, BACKUP_PATHS.archivePush).content,
    /^pgbackrest archive-push "\$wal"$/m,
    'which pushes with pgbackrest',
  )
  t.match(
    file(pl, BACKUP_PATHS.archivePush).content,
    /'\/usr\/local\/bin\/pgbackrest' '--config=\S+' '--stanza=postgresql' "\$@"/,
    "with the cook's configuration and this cluster's stanza",
  )
  t.equal(pg.parameters?.archive_timeout, 60)
  t.match(String(pg.recovery_conf?.restore_command), /archive-get %f "%p"$/)
  t.same(pg.create_replica_methods, ['pgbackrest', 'basebackup'], 'the repository first, then the leader')
  t.match(pg.pgbackrest, { keep_data: true, no_params: true, no_leader: true })
  const boot = yml.bootstrap as Record<string, Record<string, unknown>>
  t.equal(boot.method, 'pgbackrest_pitr')
  t.match(boot.pgbackrest_pitr, {
    command: `'${BACKUP_PATHS.restoreScript}'`,
    recovery_conf: {
      recovery_target_time: '2026-11-30 23:10:05.000000+00',
      recovery_target_action: 'promote',
    },
  })
  t.match(
    String((boot.pgbackrest_pitr?.recovery_conf as Record<string, unknown>).restore_command),
    /'--stanza=old' archive-get/,
    'WAL for the restore comes from the old stanza',
  )

  const cron = file(pl, BACKUP_PATHS.cron)
  t.equal(cron.mode, 0o644)
  t.equal(cron.owner, 'root', 'cron ignores files in cron.d that others can write or do not own')
  const jobs = cron.content.split('\n').filter((l) => l !== '' && !l.startsWith('#'))
  t.same(
    jobs.map((l) => l.split(' ').slice(0, 6).join(' ')),
    ['15 1 * * 0 postgres', '15 1 * * 1-6 postgres'],
  )
  t.match(jobs[0], /cook-backup' --scheduled full$/)
  t.ok(pl.services.includes('cron'), 'cron is started (Nomad mode has no /etc/rc to start it)')
  t.equal(pl.rcConf.cron_enable, 'YES')
})

t.test('the real pgbackrest reads the rendered pgbackrest.conf without a warning', async (t) => {
  const dir = tempDir(t)
  const layout: Layout = { ...JAIL_LAYOUT, base: join(dir, 'root'), pgbackrestBin: '/usr/bin/pgbackrest' }
  const s3 = { ...S3, S3CAFILE: '/etc/ssl/certs/ca-certificates.crt' }
  for (const over of [{ BACKUPREPO: join(dir, 'repo') }, s3]) {
    const pl = plan(params(over), layout)
    const conf = join(dir, 'pgbackrest.conf')
    writeFileSync(conf, file(pl, BACKUP_PATHS.conf).content)
    mkdirSync(join(layout.base, BACKUP_PATHS.logDir), { recursive: true })
    mkdirSync(join(layout.base, BACKUP_PATHS.lockDir), { recursive: true })
    const r = spawnSync(
      'pgbackrest',
      [`--config=${conf}`, '--stanza=postgresql', '--io-timeout=1', '--log-level-console=warn', 'info'],
      { encoding: 'utf8', timeout: 60_000 },
    )
    t.notMatch(
      r.stderr,
      /configuration file contains|invalid|stanza-only/,
      `${over.BACKUPREPO}: no option refused`,
    )
    if (over === s3)
      t.match(r.stdout + r.stderr, /127\.0\.0\.1|connect/i, 'S3: it got as far as the endpoint')
    else t.match(r.stdout, /missing stanza path/, 'path: it read the (empty) repository')
  }
})

t.test(
  'an encrypted repository: the real pgbackrest writes it with the rendered passphrase, openssl reads it ' +
    'back with the same one; a repository that does not match the parameters is named',
  async (t) => {
    const pg = startPostgres(t)
    const dir = tempDir(t)
    const owner = lookupUser('postgres')
    if (!owner) throw new Error('the postgres user is missing')
    chownSync(dir, owner.uid, owner.gid)
    const layout: Layout = { ...JAIL_LAYOUT, base: join(dir, 'root'), pgbackrestBin: PGBACKREST_BIN }
    for (const d of [BACKUP_PATHS.logDir, BACKUP_PATHS.lockDir]) {
      mkdirSync(join(layout.base, d), { recursive: true })
      chownSync(join(layout.base, d), owner.uid, owner.gid)
    }
    /** The rendered pgbackrest.conf of these parameters, 0600 postgres, as the jail has it. */
    const conf = (name: string, over: Record<string, string>) => {
      const path = join(dir, `${name}.conf`)
      writeFileSync(path, file(plan(params(over), layout), BACKUP_PATHS.conf).content, { mode: 0o600 })
      chownSync(path, owner.uid, owner.gid)
      return path
    }
    // This test's PostgreSQL instead of the jail's data directory and socket: options on the command line.
    const pgbackrest = (config: string, args: string[]) =>
      runAsPostgres([
        PGBACKREST_BIN,
        `--config=${config}`,
        '--stanza=postgresql',
        ...(args.includes('info')
          ? []
          : [
              `--pg1-path=${join(pg.socketDir, 'data')}`,
              `--pg1-socket-path=${pg.socketDir}`,
              `--pg1-port=${pg.port}`,
            ]),
        ...args,
      ])
    const state = async (config: string) => {
      const r = await pgbackrest(config, ['--output=json', 'info'])
      t.equal(r.code, 0, r.stderr)
      return backupState(r.stdout, 'postgresql')
    }

    const repo = join(dir, 'repo')
    makeRepoDir(repo)
    const encrypted = conf('encrypted', { BACKUPREPO: repo })
    const created = await pgbackrest(encrypted, ['stanza-create'])
    t.equal(created.code, 0, `stanza-create with the rendered configuration: ${created.stderr}`)
    t.notOk(created.stderr.includes(CIPHER), 'the passphrase is in no message')
    const info = join(repo, 'backup', 'postgresql', 'backup.info')
    t.equal(readFileSync(info).subarray(0, 8).toString('latin1'), 'Salted__', 'backup.info is encrypted')
    // pgBackRest encrypts like `openssl enc -aes-256-cbc -md sha1`: the passphrase it read from the
    // file is exactly CIPHER, hostile characters and all. openssl gets it from its environment.
    const decrypt = (pass: string) =>
      spawnSync('openssl', ['enc', '-d', '-aes-256-cbc', '-md', 'sha1', '-pass', 'env:PASS', '-in', info], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, PASS: pass },
      })
    const plain = decrypt(CIPHER)
    t.equal(plain.status, 0, plain.stderr)
    t.match(plain.stdout, /^\[backrest\]$/m, 'openssl opens it with BACKUPCIPHERPASS')
    t.match(plain.stdout, /^cipher-pass=/m, "and finds the repository's own key for the backups inside")
    t.not(decrypt(`${CIPHER}x`).status, 0, 'and not with another passphrase')
    const ok = await state(encrypted)
    t.equal(ok.cipher, 'aes-256-cbc', 'pgbackrest info: the stanza is encrypted')
    t.equal(ok.error, undefined, 'and readable')

    const wrong = await state(conf('wrong', { BACKUPREPO: repo, BACKUPCIPHERPASS: 'w'.repeat(40) }))
    t.match(wrong.error, /BACKUPCIPHERPASS does not open the repository/, 'another passphrase, named')
    const unencrypted = await state(conf('off', { BACKUPREPO: repo, BACKUPCIPHER: 'off' }))
    t.match(unencrypted.error, /the repository is encrypted, but BACKUPCIPHER=off/, 'no passphrase, named')

    // An existing unencrypted repository, now given a passphrase: pgBackRest cannot read it.
    const repo2 = join(dir, 'repo2')
    makeRepoDir(repo2)
    const made = await pgbackrest(conf('plain', { BACKUPREPO: repo2, BACKUPCIPHER: 'off' }), [
      'stanza-create',
    ])
    t.equal(made.code, 0, made.stderr)
    t.match(readFileSync(join(repo2, 'backup', 'postgresql', 'backup.info'), 'latin1'), /^\[backrest\]/)
    const later = await state(conf('later', { BACKUPREPO: repo2 }))
    t.match(
      later.error,
      /the repository is NOT encrypted, but BACKUPCIPHERPASS is set: .* a new, empty repository .* BACKUPCIPHER=off/,
      'an unencrypted repository with a passphrase set: what to do',
    )
  },
)

t.test('the backup scripts pass shellcheck -s sh, also with paths that need quoting', async (t) => {
  const dir = tempDir(t)
  const layouts: Layout[] = [JAIL_LAYOUT, { ...JAIL_LAYOUT, base: join(dir, "it's a dir") }]
  let n = 0
  for (const layout of layouts) {
    const pl = plan(params({ BACKUPREPO: '/mnt/backups', RESTORETIME: '2026-11-30 23:10:05Z' }), layout)
    for (const f of pl.files.filter((x) => x.format === 'sh')) {
      const path = join(dir, `script-${n++}`)
      writeFileSync(path, f.content)
      const sc = spawnSync('shellcheck', ['-s', 'sh', path], { encoding: 'utf8' })
      t.equal(sc.status, 0, `shellcheck ${f.path}: ${sc.stdout}`)
    }
  }
  t.equal(
    n,
    14,
    "cook-backup, cook-pgbackrest-push, cook-restore, post-bootstrap, the rc scripts of patroni and postgres_exporter and postgres_exporter's env, in two layouts",
  )
  const post = file(plan(params({ BACKUPREPO: '/mnt/backups' })), PATHS.postBootstrap).content
  t.match(post, /stanza-create \|\|/, 'post-bootstrap creates the stanza, without failing the bootstrap')
})

t.test('cook backup: the type is checked; as root it runs the backup script as postgres', async (t) => {
  const dir = tempDir(t)
  const s = standIns(dir)
  const backup = async (argv: string[]) => {
    const out: string[] = []
    const err: string[] = []
    const code = await main(['backup', ...argv], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: s.env,
    })
    return { code, out: out.join('\n'), err: err.join('\n') }
  }
  const bad = await backup(['--type', 'weekly'])
  t.equal(bad.code, 64)
  t.match(bad.err, /--type takes full, diff or incr/)
  if (process.getuid?.() !== 0) return
  const r = await backup(['--type', 'diff', '--root', '/jail'])
  t.equal(r.code, 0, r.err)
  t.same(s.callsOf('su'), ['su -m postgres -c /jail/usr/local/libexec/cook-backup diff'])
})
