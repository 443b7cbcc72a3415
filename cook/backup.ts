// Backups and point-in-time recovery with pgBackRest: the checks of the backup parameters, and the part of
// the plan they add (pgbackrest.conf, the leader-only backup script and its cron schedule, the restore
// bootstrap script) plus the values patroni.yml.hbs reads for archiving, replicas from the repository
// and the custom bootstrap. Pure, like plan.ts: it reads nothing and writes nothing.
import { patroniUrl } from './probes.js'
import { authority, isHostname, isPlainIP, parseHostPort, shown } from './net.js'
import type { Params } from './params.js'
import { at, PATHS, PG_CLIENT_ENV, type Layout } from './layout.js'
import { join } from 'node:path'
import { pgpass, sh } from './quote.js'
import { commandLine } from './shell.js'
import { bad, ok, type Checked } from './checks.js'

/** Where the repository is: nowhere (backups off), a directory (a dataset shared by the members), or S3. */
export type Repo =
  { type: 'off' } | { type: 'posix'; path: string } | { type: 's3'; bucket: string; path: string }

/** A point in time, as PostgreSQL and pgBackRest read it (UTC) and as whole seconds since the epoch. */
export interface PointInTime {
  text: string
  epoch: number
}

/** BACKUPREPO: off, an absolute path, or s3://bucket[/prefix]. */
export function checkRepo(text: string): Checked<Repo> {
  if (text === 'off') return ok<Repo>({ type: 'off' })
  if (text.startsWith('/')) {
    if (!/^(\/[A-Za-z0-9._@+-]+)+\/?$/.test(text) || /\/\.\.?(\/|$)/.test(text))
      return bad(`${shown(text)} is not a plain absolute path (letters, digits, . _ @ + - and /)`)
    return ok<Repo>({ type: 'posix', path: text.replace(/\/$/, '') })
  }
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/[A-Za-z0-9._@+/-]*)?$/.exec(text)
  if (m) {
    const path = (m[2] ?? '/').replace(/\/+$/, '') || '/'
    if (/\/\.\.?(\/|$)|\/\//.test(path)) return bad(`${shown(text)} has an empty, "." or ".." folder`)
    return ok<Repo>({ type: 's3', bucket: m[1] ?? '', path })
  }
  if (text.startsWith('s3://')) return bad(`${shown(text)} is not s3://bucket or s3://bucket/prefix`)
  return bad(`${shown(text)} is neither off, an absolute path nor s3://bucket/prefix`)
}

export const isS3 = (raw: string | undefined) => raw?.startsWith('s3://') === true

/** host or host:port of an S3-compatible endpoint (TLS is always on: pgBackRest speaks HTTPS only). */
export function checkEndpoint(text: string): Checked<string> {
  const hp = parseHostPort(text, 443)
  if (typeof hp === 'string') return bad(hp)
  if (!isPlainIP(hp.host) && !isHostname(hp.host)) return bad(`${shown(text)} is not a host name`)
  return ok(authority(hp.host, hp.port))
}

/**
 * An S3 access key or secret. pgbackrest.conf is an INI file with no quoting, so a value cannot hold a
 * line break or keep surrounding blanks: visible ASCII only, which every S3 provider's keys are.
 */
export function checkS3Credential(text: string): Checked<string> {
  return /^[\x21-\x7e]+$/.test(text) ? ok(text) : bad('has blanks, line breaks or non-ASCII characters')
}

/**
 * pgBackRest derives the repository key from the passphrase with one round of SHA-1 (OpenSSL's
 * EVP_BytesToKey): nothing slows a guesser down, so the passphrase itself must carry the strength.
 */
export const MIN_CIPHER_PASS = 32

/**
 * BACKUPCIPHERPASS. pgbackrest.conf is an INI file with no quoting: pgBackRest trims blanks around a value
 * and ends it at a line break, so neither may be part of the passphrase; anything else arrives as it is.
 */
export function cipherPass(text: string): Checked<string> {
  if (/\p{Cc}/u.test(text)) return bad('has a line break or another control character')
  if (text.trim() !== text) return bad('begins or ends with a blank, which pgBackRest would drop')
  if (/\p{Cs}/u.test(text)) return bad('is not valid Unicode text (a lone surrogate)')
  if ([...text].length < MIN_CIPHER_PASS)
    return bad(`is shorter than ${MIN_CIPHER_PASS} characters; nothing slows down guessing it offline`)
  return ok(text)
}

const CRON_FIELDS: ReadonlyArray<[string, number, number]> = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 7],
]

/** Five cron fields of numbers, ranges, lists, steps and `*` (no names, no @-shortcuts). */
export function checkCron(text: string, allowOff: boolean): Checked<string> {
  if (allowOff && text === 'off') return ok('off')
  const fields = text.trim().split(/\s+/)
  if (fields.length !== 5) return bad(`${shown(text)} has ${fields.length} fields, not 5`)
  for (const [i, field] of fields.entries()) {
    const [name, min, max] = CRON_FIELDS[i] ?? ['', 0, 0]
    for (const item of field.split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item)
      if (!m) return bad(`${shown(text)}: ${name} field ${shown(field)} is not cron syntax`)
      const nums = [m[2], m[3]].filter((n) => n !== undefined).map(Number)
      if (nums.some((n) => n < min || n > max))
        return bad(`${shown(text)}: ${name} ${shown(field)} is outside ${min}-${max}`)
      if (m[4] !== undefined && Number(m[4]) === 0) return bad(`${shown(text)}: a step of 0`)
    }
  }
  return ok(fields.join(' '))
}

/**
 * A point in time with an explicit zone: 2026-11-30 23:10:05[.123456](Z|+01|+01:00), a "T" allowed
 * between date and time. Without a zone the same text means different times on different hosts.
 */
export function checkPointInTime(text: string): Checked<PointInTime> {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)$/i.exec(
      text.trim(),
    )
  if (!m) return bad(`${shown(text)} is not YYYY-MM-DD HH:MM:SS[.ffffff] with a zone (Z or +HH:MM)`)
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const zone = (m[8] ?? 'Z').toUpperCase()
  const offsetMin =
    zone === 'Z' || zone === 'UTC'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) *
        (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(1).replace(':', '').slice(2) || '0'))
  const local = Date.UTC(y, mo - 1, d, h, mi, s)
  const check = new Date(local)
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
    return bad(`${shown(text)} is not a real date and time`)
  const ms = local - offsetMin * 60_000
  const utc = new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
  const fraction = (m[7] ?? '').padEnd(6, '0')
  return ok({ text: `${utc}.${fraction}+00`, epoch: Math.floor(ms / 1000) } satisfies PointInTime)
}

/** The backup part of the plan: directories and files, all under the jail's paths. */
export interface BackupFiles {
  dirs: { path: string; mode: number; owner: string }[]
  files: {
    path: string
    template: string
    view: object
    mode: number
    owner: string
    format: 'ini' | 'sh' | 'text'
    secretLines?: RegExp
  }[]
}

export const BACKUP_PATHS = {
  confDir: '/usr/local/etc/pgbackrest',
  conf: '/usr/local/etc/pgbackrest/pgbackrest.conf',
  pgpass: '/usr/local/etc/pgbackrest/pgpass',
  logDir: '/var/log/pgbackrest',
  lockDir: '/var/db/postgres/pgbackrest-lock',
  backupScript: '/usr/local/libexec/cook-backup',
  // pgBackRest's backup refuses an archive_command without "pgbackrest" in it: the name carries it.
  archivePush: '/usr/local/libexec/cook-pgbackrest-push',
  restoreScript: '/usr/local/libexec/cook-restore',
  cron: '/usr/local/etc/cron.d/pgbackrest',
} as const

const INI_SECRET = /^\s*repo1-(s3-key(-secret)?|cipher-pass)=/
const PGPASS_SECRET = /./

export const backupsOn = (p: Params) => p.BACKUPREPO.type !== 'off'

/**
 * How `cook backup` and `cook status` run the rendered cook-backup script under `root`: as the postgres
 * user (the repository's files must belong to it), through su when the cook runs as root (uid 0).
 */
export function backupScriptArgv(root: string, args: string[], uid: number | undefined): string[] {
  const script = join(root, BACKUP_PATHS.backupScript)
  return uid === 0 ? ['su', '-m', 'postgres', '-c', commandLine([script, ...args])] : [script, ...args]
}

/** The newest backup and the archive's newest WAL, from `pgbackrest --output=json info` of one stanza. */
export interface BackupState {
  status: string
  lastBackup: { type: string; stop: string; ageS: number } | null
  walMax: string | null
  /** The cipher pgBackRest was told to read the repository with (aes-256-cbc or none). */
  cipher?: string
  /** Set when the stanza cannot be read: pgBackRest's message, in words an operator can act on. */
  error?: string
}

/**
 * What pgBackRest's message about an unreadable info file means for the operator. pgBackRest answers
 * `info` with exit 0 and status code 99 and says "cipher header invalid" (an unencrypted repository read
 * with a passphrase), "unable to flush" (the wrong passphrase) or "key/value found outside of section"
 * with "Salted__" (an encrypted repository read without one); another passphrase decrypts to garbage.
 */
export function cipherProblem(message: string, cipher: string | undefined): string | undefined {
  if (/cipher header invalid/.test(message))
    return (
      'the repository is NOT encrypted, but BACKUPCIPHERPASS is set: pgBackRest cannot add encryption to an ' +
      'existing stanza; point BACKUPREPO at a new, empty repository (then take a full backup), or set ' +
      'BACKUPCIPHER=off (and no BACKUPCIPHERPASS) to keep using this one unencrypted'
    )
  if (cipher === 'none' && /Salted__|FormatError/.test(message))
    return 'the repository is encrypted, but BACKUPCIPHER=off: set BACKUPCIPHERPASS to the passphrase it was created with'
  // Another passphrase decrypts to garbage: a bad padding (CryptoError) or text that is no INI (FormatError).
  if (cipher !== undefined && cipher !== 'none' && /CryptoError|FormatError/.test(message))
    return 'BACKUPCIPHERPASS does not open the repository: it was encrypted with another passphrase (it cannot be changed)'
  return undefined
}

export function backupState(json: string, stanza: string, now = Date.now()): BackupState {
  // pgBackRest copies the start of an unreadable info file into its message as it is: an encrypted one's
  // bytes then break the JSON. Control characters are never needed outside strings, nor in what is read.
  const stanzas = JSON.parse(json.replace(/\p{Cc}/gu, ' ')) as {
    name: string
    cipher?: string
    status?: { code?: number; message?: string }
    repo?: { status?: { code?: number; message?: string } }[]
    backup?: { type: string; timestamp: { stop: number } }[]
    archive?: { max?: string | null }[]
  }[]
  const s = stanzas.find((x) => x.name === stanza)
  if (!s) return { status: `no stanza ${stanza}`, lastBackup: null, walMax: null }
  const last = [...(s.backup ?? [])].sort((a, b) => a.timestamp.stop - b.timestamp.stop).at(-1)
  // Code 99: the repository could not be read; the reason is in the repository's own status.
  const repoMessage = (s.repo ?? []).map((r) => r.status?.message ?? '').find((m) => m !== '') ?? ''
  const unreadable = s.status?.code === 99
  const error = unreadable
    ? (cipherProblem(repoMessage, s.cipher) ?? (repoMessage.split('\n')[0] || 'unreadable'))
    : undefined
  return {
    status: s.status?.message ?? 'unknown',
    lastBackup: last
      ? {
          type: last.type,
          stop: new Date(last.timestamp.stop * 1000).toISOString(),
          ageS: Math.round(now / 1000 - last.timestamp.stop),
        }
      : null,
    walMax: s.archive?.map((a) => a.max ?? null).find((m) => m !== null) ?? null,
    ...(s.cipher === undefined ? {} : { cipher: s.cipher }),
    ...(error === undefined ? {} : { error }),
  }
}

/** pgbackrest with the cook's configuration, as words for /bin/sh and Patroni's shlex. */
function pgbackrestWords(p: Params, layout: Layout, stanza: string): string[] {
  return [layout.pgbackrestBin, `--config=${at(layout, BACKUP_PATHS.conf)}`, `--stanza=${stanza}`]
}

const shWords = (words: string[]) => words.map((w) => sh(w)).join(' ')

/** archive_command, restore_command and the replica method's command, as PostgreSQL and Patroni run them. */
export function archiveCommands(p: Params, layout: Layout, stanza = p.SCOPE) {
  const base = shWords(pgbackrestWords(p, layout, stanza))
  return {
    // %p and %f are replaced by PostgreSQL: pg_wal/NAME and NAME, never with blanks or quotes.
    // The push goes through cook-pgbackrest-push, which keeps an abandoned timeline's WAL out of the archive.
    archive: `${shWords([at(layout, BACKUP_PATHS.archivePush)])} "%p"`,
    restore: `${base} archive-get %f "%p"`,
    // --type=none: pgBackRest writes no recovery settings; Patroni writes its own for the replica.
    replica: `${base} --delta --type=none restore`,
  }
}

export function backupFiles(p: Params, layout: Layout): BackupFiles {
  if (p.BACKUPREPO.type === 'off') return { dirs: [], files: [] }
  const L = (path: string) => at(layout, path)
  const pg = layout.pgUser
  const repo = p.BACKUPREPO
  const s3 =
    repo.type === 's3'
      ? (() => {
          const hp = parseHostPort(p.S3ENDPOINT ?? '', 443)
          if (typeof hp === 'string') throw new Error(`S3ENDPOINT: ${hp}`)
          return {
            bucket: repo.bucket,
            endpoint: hp.host,
            port: hp.port,
            region: p.S3REGION,
            key: p.S3KEY,
            secret: p.S3SECRET,
            uriStyle: p.S3URISTYLE,
            caFile: p.S3CAFILE ?? null,
          }
        })()
      : null
  const conf = {
    repoPath: repo.path,
    s3,
    // One passphrase for the repository: every stanza in it (this cluster's, a restore's, a standby's
    // primary's) is read and written with it.
    cipherPass: p.BACKUPCIPHER === 'off' ? null : (p.BACKUPCIPHERPASS ?? null),
    keep: p.BACKUPKEEP,
    logDir: L(BACKUP_PATHS.logDir),
    lockDir: L(BACKUP_PATHS.lockDir),
    dataDir: L(PATHS.dataDir),
    socketDir: L(PATHS.pgSocketDir),
    // Stanza names are DNS labels (the schema's check), safe inside [ ].
    stanzas: [
      ...new Set([
        p.SCOPE,
        ...(p.RESTORETIME && p.RESTORESTANZA ? [p.RESTORESTANZA] : []),
        // archive-get checks the stanza's archive against this member's PostgreSQL (same system id).
        ...(p.STANDBYSTANZA ? [p.STANDBYSTANZA] : []),
      ]),
    ],
  }
  const files: BackupFiles['files'] = [
    {
      path: BACKUP_PATHS.conf,
      template: 'pgbackrest.conf',
      view: conf,
      mode: 0o600,
      owner: pg,
      format: 'ini',
      secretLines: INI_SECRET,
    },
    {
      // pgbackrest backup, check and stanza-create connect to PostgreSQL over its socket as postgres. The
      // password is for that socket only: libpq matches a socket against its directory's path, and "localhost"
      // only when the directory is libpq's default (/tmp on FreeBSD). No "localhost" line: it would offer
      // KEKPASS to whatever listens on /tmp/.s.PGSQL.5432 or on TCP localhost:5432, which any jail user may be.
      path: BACKUP_PATHS.pgpass,
      template: 'pgbackrest-pgpass',
      view: { hosts: [pgpass(L(PATHS.pgSocketDir))], password: pgpass(p.KEKPASS) },
      mode: 0o600,
      owner: pg,
      format: 'text',
      secretLines: PGPASS_SECRET,
    },
    {
      path: BACKUP_PATHS.backupScript,
      template: 'cook-backup.sh',
      view: {
        pgbackrest: pgbackrestWords(p, layout, p.SCOPE),
        pgpass: L(BACKUP_PATHS.pgpass),
        requireAuth: PG_CLIENT_ENV.PGREQUIREAUTH,
        primaryUrl: `${patroniUrl(p)}/primary`,
        // With TLS the REST API is HTTPS: curl verifies it against the cluster's CA.
        caFile: p.TLS === 'off' ? null : L(PATHS.patroniCa),
      },
      mode: 0o755,
      owner: 'root',
      format: 'sh',
    },
    {
      // archive_command: the leader's archiver runs it, and Patroni runs it for a rejoining old leader.
      path: BACKUP_PATHS.archivePush,
      template: 'cook-pgbackrest-push.sh',
      view: { pgbackrest: pgbackrestWords(p, layout, p.SCOPE) },
      mode: 0o755,
      owner: 'root',
      format: 'sh',
    },
    {
      // /usr/local/etc/cron.d: cron(8) reads it like /etc/crontab (with a user column) and notices changes.
      path: BACKUP_PATHS.cron,
      template: 'pgbackrest.cron',
      view: {
        script: L(BACKUP_PATHS.backupScript),
        user: pg,
        full: p.BACKUPFULL,
        diff: p.BACKUPDIFF === 'off' ? null : p.BACKUPDIFF,
      },
      mode: 0o644,
      owner: 'root',
      format: 'text',
    },
  ]
  if (p.RESTORETIME !== undefined)
    files.push({
      path: BACKUP_PATHS.restoreScript,
      template: 'cook-restore.sh',
      view: {
        pgbackrest: pgbackrestWords(p, layout, p.RESTORESTANZA ?? p.SCOPE),
        stanza: p.RESTORESTANZA ?? p.SCOPE,
        target: p.RESTORETIME.text,
        // Reads the newest archived WAL's last commit time (Patroni's pg_rewind support needs it too).
        waldump: `${layout.pgBinDir}/pg_waldump`,
        targetEpoch: String(p.RESTORETIME.epoch),
      },
      mode: 0o755,
      owner: 'root',
      format: 'sh',
    })
  return {
    dirs: [
      { path: BACKUP_PATHS.confDir, mode: 0o750, owner: pg },
      { path: BACKUP_PATHS.logDir, mode: 0o750, owner: pg },
      { path: BACKUP_PATHS.lockDir, mode: 0o750, owner: pg },
      { path: '/usr/local/libexec', mode: 0o755, owner: 'root' },
      { path: '/usr/local/etc/cron.d', mode: 0o755, owner: 'root' },
    ],
    files,
  }
}

/** The values patroni.yml.hbs reads for archiving, replicas and the restore bootstrap; null when off. */
export function patroniBackupView(p: Params, layout: Layout) {
  if (p.BACKUPREPO.type === 'off') return { backup: null, restore: null }
  const cmds = archiveCommands(p, layout)
  const backup = {
    archiveCommand: cmds.archive,
    archiveTimeout: p.ARCHIVETIMEOUT,
    restoreCommand: cmds.restore,
    replicaCommand: cmds.replica,
  }
  const restore =
    p.RESTORETIME === undefined
      ? null
      : {
          command: shWords([at(layout, BACKUP_PATHS.restoreScript)]),
          restoreCommand: archiveCommands(p, layout, p.RESTORESTANZA ?? p.SCOPE).restore,
          targetTime: p.RESTORETIME.text,
        }
  return { backup, restore }
}

/**
 * A standby cluster's restore_command (standby_cluster in bootstrap.dcs): WAL from the primary cluster's
 * archive (STANDBYSTANZA in the shared repository). Patroni hands it to the standby-leader, and to the
 * standby cluster's replicas, in place of recovery_conf's own-stanza command.
 */
export function standbyRestoreCommand(p: Params, layout: Layout): string | null {
  if (p.BACKUPREPO.type === 'off' || p.STANDBYSTANZA === undefined) return null
  return archiveCommands(p, layout, p.STANDBYSTANZA).restore
}

/** The post-bootstrap script's stanza-create: the leader's archive_command needs the stanza. */
export function stanzaCreateView(p: Params, layout: Layout) {
  if (p.BACKUPREPO.type === 'off') return null
  return { pgbackrest: pgbackrestWords(p, layout, p.SCOPE), pgpass: at(layout, BACKUP_PATHS.pgpass) }
}

/** What `cook check` says about backups, in plain words. */
export function backupSummary(p: Params): string {
  const repo = p.BACKUPREPO
  if (repo.type === 'off')
    return 'backups: OFF (BACKUPREPO=off): no WAL archive, no backups, no point-in-time restore; set BACKUPREPO to turn them on'
  const where =
    repo.type === 's3'
      ? `s3://${repo.bucket}${repo.path} at ${p.S3ENDPOINT ?? '?'}`
      : `directory ${repo.path}`
  const diff = p.BACKUPDIFF === 'off' ? 'no differential backups' : `differential "${p.BACKUPDIFF}"`
  const lines = [
    `backups: pgBackRest, stanza ${p.SCOPE}, repository ${where}; full "${p.BACKUPFULL}", ${diff} (cron, on the leader only); ` +
      `keep ${p.BACKUPKEEP} full; WAL archived at least every ${p.ARCHIVETIMEOUT} s (archive_timeout: the RPO bound)`,
    p.BACKUPCIPHER === 'off'
      ? 'encryption: OFF (BACKUPCIPHER=off): whoever reads the repository reads every backup and archived WAL, pg_authid included'
      : 'encryption: aes-256-cbc with BACKUPCIPHERPASS (pgbackrest.conf only, 0600 postgres); every cluster that restores ' +
        'from or follows this repository needs the same passphrase, and without it no backup can be read',
  ]
  if (p.RESTORETIME === undefined)
    lines.push(
      `restore: none (the cluster starts empty if it is new); to restore, start a new cluster with the same BACKUPREPO, ` +
        `a new SCOPE, RESTORETIME=<YYYY-MM-DD HH:MM:SS+00> and RESTORESTANZA=${p.SCOPE}`,
    )
  else
    lines.push(
      p.SERVICETAG === 'master'
        ? `restore: if the cluster ${p.SCOPE} does not exist yet, this member creates it from stanza ` +
            `${p.RESTORESTANZA ?? p.SCOPE} as of ${p.RESTORETIME.text} (cook-restore, Patroni's custom bootstrap); ` +
            'an existing cluster is not touched'
        : `restore: the cluster is created from stanza ${p.RESTORESTANZA ?? p.SCOPE} as of ${p.RESTORETIME.text} ` +
            `by its master member; this member (${p.SERVICETAG}) joins it as a replica`,
    )
  return lines.join('\n')
}

/** What a start says about backups besides errors: that the repository is not encrypted. */
export function backupWarnings(p: Pick<Params, 'BACKUPREPO' | 'BACKUPCIPHER'>): string[] {
  return p.BACKUPREPO.type !== 'off' && p.BACKUPCIPHER === 'off'
    ? [
        'BACKUPCIPHER=off: the backup repository is not encrypted; whoever reads it (the shared dataset, the ' +
          "bucket) reads every backup and archived WAL, the roles' password verifiers (pg_authid) included",
      ]
    : []
}
