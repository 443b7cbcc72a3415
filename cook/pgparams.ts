// PostgreSQL parameters an operator sets (PGPARAMS), the memory-derived defaults (MEMORY), and where each one
// lands: Patroni takes some only from the DCS, owns others outright. Pure: the installed server's table of
// settings (`postgres --describe-config`, cook/pgserver.ts) is an argument, never read here.

/** One row of `postgres --describe-config`: name, context, group, vartype, reset, min, max, descriptions. */
export interface PgSetting {
  name: string
  /** postmaster: a change needs a restart; sighup/superuser/user/...: a reload is enough. */
  context: string
  vartype: 'BOOLEAN' | 'INTEGER' | 'REAL' | 'STRING' | 'ENUM'
}

export type SettingsTable = ReadonlyMap<string, PgSetting>

/** Parses `postgres --describe-config` (tab-separated, one setting a line). */
export function parseDescribeConfig(text: string): SettingsTable {
  const table = new Map<string, PgSetting>()
  for (const line of text.split('\n')) {
    const [name, context, , vartype] = line.split('\t')
    if (!name || !context || !vartype) continue
    table.set(name.toLowerCase(), { name, context, vartype: vartype as PgSetting['vartype'] })
  }
  return table
}

/**
 * Parameters Patroni or cook set themselves: Patroni overwrites them, ignores them or breaks with them.
 * The reason is the refusal's message.
 */
export const OWNED: Readonly<Record<string, string>> = {
  listen_addresses: 'Patroni sets it from MYIP',
  port: 'Patroni sets it (5432, on MYIP)',
  cluster_name: 'Patroni sets it to SCOPE',
  hot_standby: 'Patroni keeps it on: replicas must answer queries',
  wal_log_hints: 'cook keeps it on: pg_rewind needs it to rejoin a former leader',
  data_directory: 'the data directory is /mnt/postgres/data, set by cook',
  config_file: 'Patroni writes postgresql.conf itself',
  hba_file: 'Patroni writes pg_hba.conf (ALLOWNETS, MEMBERNETS)',
  ident_file: 'Patroni writes pg_ident.conf',
  unix_socket_directories: 'cook sets it (/var/run/postgresql, not the world-writable /tmp)',
  // PostgreSQL's own log, rotated by PostgreSQL (README, "The logs").
  logging_collector: "cook keeps it on: PostgreSQL must write its own log, not Patroni's output",
  log_directory: 'cook sets it (/var/log/postgresql)',
  log_filename: 'cook sets it: a week of daily files (postgresql-%a.log)',
  log_truncate_on_rotation: 'cook keeps it on: each daily file is reused after seven days',
  log_rotation_age: 'cook sets it (1d): the daily files',
  log_rotation_size: 'cook sets it (0): the daily files',
  password_encryption: 'cook requires scram-sha-256',
  synchronous_standby_names: 'Patroni manages it (SYNCMODE)',
  primary_conninfo: 'Patroni manages replication connections',
  primary_slot_name: 'Patroni manages replication slots (STANDBYSLOT for a standby cluster)',
  recovery_target: 'Patroni manages recovery',
  recovery_target_lsn: 'Patroni manages recovery',
  recovery_target_name: 'Patroni manages recovery',
  recovery_target_time: 'Patroni manages recovery',
  recovery_target_xid: 'Patroni manages recovery',
  recovery_target_timeline: 'Patroni manages recovery',
  recovery_target_action: 'Patroni manages recovery',
  recovery_target_inclusive: 'Patroni manages recovery',
  promote_trigger_file: 'Patroni promotes members itself',
  // TLS belongs to TLS, TLSCERT and TLSKEY; weakensSecurity (below) judges the TLS settings PGPARAMS may set.
  ssl: 'TLS turns it on or off',
  ssl_cert_file: 'cook sets it to the file of TLSCERT',
  ssl_key_file: 'cook sets it to the file of TLSKEY',
  // WAL archiving belongs to the backup configuration (pgBackRest), which sets all of these together.
  archive_mode: 'WAL archiving is configured by the backup parameters, not by hand',
  archive_command: 'WAL archiving is configured by the backup parameters, not by hand',
  archive_library: 'WAL archiving is configured by the backup parameters, not by hand',
  archive_timeout: 'ARCHIVETIMEOUT sets it',
  restore_command: 'WAL restore is configured by the backup parameters, not by hand',
  archive_cleanup_command: 'WAL restore is configured by the backup parameters, not by hand',
  recovery_end_command: 'WAL restore is configured by the backup parameters, not by hand',
}

/**
 * Parameters Patroni reads only from the DCS (its CMDLINE_OPTIONS, postgresql/config.py): they must be
 * equal on every member, so a value in a member's local postgresql.parameters is ignored. Cook puts them in
 * bootstrap.dcs, read when the cluster is created; later changes go through `patronictl edit-config`.
 * Patroni also drops a DCS value below its floor without a word; cook refuses it instead.
 */
export const DCS_ONLY: Readonly<Record<string, { floor?: number; accepts?: readonly string[] }>> = {
  max_connections: { floor: 25 },
  max_wal_senders: { floor: 3 },
  max_replication_slots: { floor: 4 },
  max_worker_processes: { floor: 2 },
  max_prepared_transactions: { floor: 0 },
  max_locks_per_transaction: { floor: 32 },
  track_commit_timestamp: {},
  wal_level: { accepts: ['replica', 'logical'] },
  wal_keep_size: { floor: 16 },
}

export type Place = 'local' | 'dcs'

export const placeOf = (name: string): Place => (name in DCS_ONLY ? 'dcs' : 'local')

/** PGPARAMS syntax: whitespace-separated name=value; a value in single quotes may hold spaces ('' is a quote). */
export function parsePgParams(text: string): { value: Record<string, string> } | { why: string } {
  const out: Record<string, string> = {}
  const item = /\s*([^\s=]+)\s*=\s*('(?:[^']|'')*'|[^\s']*)(?=\s|$)/y
  let at = 0
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break
    item.lastIndex = at
    const m = item.exec(text)
    if (!m) {
      const rest = text.slice(at).trim()
      return { why: `cannot read ${JSON.stringify(rest.length > 40 ? `${rest.slice(0, 40)}...` : rest)}` }
    }
    const [, rawName = '', rawValue = ''] = m
    const name = rawName.toLowerCase()
    if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(name))
      return { why: `${JSON.stringify(rawName)} is not a parameter name` }
    if (name in out) return { why: `${name} is given twice` }
    out[name] = rawValue.startsWith("'") ? rawValue.slice(1, -1).replace(/''/g, "'") : rawValue
    at = item.lastIndex
  }
  if (Object.keys(out).length === 0) return { why: 'names no parameter' }
  return { value: out }
}

const BOOL = /^(on|off|true|false|yes|no|1|0|t|f|y|n|tr|tru|fa|fal|fals|ye)$/i
const MB: Record<string, number> = { kb: 1 / 1024, mb: 1, gb: 1024, tb: 1024 * 1024 }

/** A size in MB, for the floors Patroni applies (wal_keep_size: a bare number is MB). */
function sizeInMb(value: string): number | undefined {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/i.exec(value)
  if (!m) return undefined
  return Number(m[1]) * (MB[(m[2] ?? 'MB').toLowerCase()] ?? 1)
}

/** Cipher classes an ssl_ciphers string must exclude with "!" (OpenSSL: never to reappear, whatever follows). */
export const WEAK_CIPHER_CLASSES = ['aNULL', 'eNULL', 'EXPORT', 'LOW', 'DES', '3DES', 'RC4', 'MD5'] as const

/** Parts of an OpenSSL cipher suite name that mark it weak: no encryption, no authentication, export, DES, RC4, MD5. */
const WEAK_SUITE_PART = /^(NULL|ADH|AECDH|ANON|EXP\d*|DES|CBC3|3DES|RC4|RC2|MD5)$/i

/**
 * Why an OpenSSL cipher string (ssl_ciphers) could let a TLS 1.2 session use a weak suite, or undefined.
 * Accepted: only suites named one by one (ECDHE-RSA-AES256-GCM-SHA384:...), none of them weak; or any string
 * that excludes every class of WEAK_CIPHER_CLASSES with "!", whatever else it selects. Never @SECLEVEL=0.
 * A rule on the text alone, without asking OpenSSL: cook must not depend on an openssl binary in the jail;
 * the unit tests check the rule against `openssl ciphers -v`.
 */
export function weakCiphers(value: string): string | undefined {
  const items = value.split(/[:, ]+/).filter((item) => item !== '')
  if (items.length === 0) return 'is empty'
  const level = items.find((item) => /^@SECLEVEL=0$/i.test(item))
  if (level) return `${level} allows every weak suite`
  const excluded = new Set(items.filter((i) => i.startsWith('!')).map((i) => i.slice(1)))
  if (excluded.has('NULL')) excluded.add('eNULL')
  const selectors = items.filter((i) => !/^[!-]/.test(i) && !i.startsWith('@'))
  const weakNamed = selectors.filter(
    (i) => /-/.test(i) && i.split('-').some((part) => WEAK_SUITE_PART.test(part)),
  )
  if (weakNamed.length > 0)
    return `${weakNamed.join(', ')} ${weakNamed.length === 1 ? 'is a weak suite' : 'are weak suites'}`
  // A selector without "-" is a class (HIGH, ALL, AESGCM, kEDH, ...): it may include weak suites.
  if (selectors.every((i) => /-/.test(i) && !i.includes('+'))) return undefined
  const missing = WEAK_CIPHER_CLASSES.filter((c) => !excluded.has(c))
  return missing.length === 0
    ? undefined
    : `selects classes of suites without excluding ${missing.map((c) => `!${c}`).join(':')}; want suites named one by one, or a string that excludes all of ${WEAK_CIPHER_CLASSES.map((c) => `!${c}`).join(':')}`
}

const FALSE = /^(off|false|no|0|f|n|of|fa|fal|fals)$/i

/**
 * Settings that would lower TLS or authentication below what cook sets up: why, or undefined.
 * TLS 1.2 is the floor, no cap below TLS 1.3, no weak cipher suite, no weaker SCRAM.
 */
export function weakensSecurity(name: string, value: string): string | undefined {
  const v = value.trim().toLowerCase()
  switch (name) {
    case 'ssl_min_protocol_version':
      return ['tlsv1.2', 'tlsv1.3'].includes(v)
        ? undefined
        : `${name}=${value} is below TLSv1.2; want TLSv1.2 (the default) or TLSv1.3`
    case 'ssl_max_protocol_version':
      return ['', 'tlsv1.3'].includes(v)
        ? undefined
        : `${name}=${value} would give up newer TLS versions; want TLSv1.3 or leave it unset`
    case 'ssl_ciphers': {
      const why = weakCiphers(value)
      return why === undefined ? undefined : `${name}: ${why}`
    }
    case 'ssl_prefer_server_ciphers':
      return FALSE.test(v)
        ? `${name}=${value} would let clients choose the suite; want on (the default)`
        : undefined
    case 'ssl_passphrase_command':
    case 'ssl_passphrase_command_supports_reload':
      return `${name} cannot be set: TLSKEY is an unencrypted key that cook installs; no command runs to unlock it`
    case 'db_user_namespace':
      return FALSE.test(v)
        ? undefined
        : `${name}=${value} changes which role a login names, under pg_hba's rules; want off`
    case 'scram_iterations': {
      const n = /^\d+$/.test(v) ? Number(v) : NaN
      return n >= 4096
        ? undefined
        : `${name}=${value} would weaken new password verifiers; want 4096 (the default) or more`
    }
    default:
      return undefined
  }
}

/** What cook and Patroni allow for one parameter, before the server is asked; undefined when fine. */
export function refusal(name: string, value: string): string | undefined {
  const owned = OWNED[name]
  if (owned) return `${name} cannot be set: ${owned}`
  const weaker = weakensSecurity(name, value)
  if (weaker) return weaker
  if (name.startsWith('recovery_target')) return `${name} cannot be set: Patroni manages recovery`
  const dcs = DCS_ONLY[name]
  if (dcs?.accepts && !dcs.accepts.includes(value.toLowerCase()))
    return `${name}=${value}: Patroni needs ${dcs.accepts.join(' or ')}`
  if (dcs?.floor !== undefined) {
    const n = name === 'wal_keep_size' ? sizeInMb(value) : /^\d+$/.test(value) ? Number(value) : undefined
    if (n === undefined)
      return `${name}=${value}: want a whole number${name === 'wal_keep_size' ? ' of kB, MB or GB' : ''}`
    if (n < dcs.floor)
      return `${name}=${value} is below ${dcs.floor}${name === 'wal_keep_size' ? 'MB' : ''}, which Patroni would silently replace by its default`
  }
  return undefined
}

/** Checks the names (and what the type alone tells) against the installed server's table: name -> why not. */
export function checkAgainstTable(
  params: Record<string, string>,
  table: SettingsTable,
): Record<string, string> {
  const refused: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) {
    // A dotted name is an extension's (pg_stat_statements.max): the server takes it as a placeholder.
    if (name.includes('.')) continue
    const setting = table.get(name)
    if (!setting) {
      const near = nearest(name, [...table.keys()])
      refused[name] = `not a parameter of this PostgreSQL server${near ? ` (did you mean ${near}?)` : ''}`
    } else if (setting.vartype === 'BOOLEAN' && !BOOL.test(value)) {
      refused[name] = `${JSON.stringify(value)} is not a boolean; want on or off`
    }
  }
  return refused
}

/** The closest known name within two edits, for "did you mean". */
function nearest(name: string, names: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of names) {
    const d = editDistance(name, candidate, bestDistance)
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    prev = row
  }
  return prev[b.length] ?? cap
}

/**
 * Memory settings derived from the member's memory in MB (the usual starting points, as pgtune gives them):
 * shared_buffers 25 %, effective_cache_size 75 %, maintenance_work_mem 1/16 capped at 2 GB (never below
 * PostgreSQL's own 64 MB default).
 */
export function memoryDefaults(memoryMb: number): Record<string, string> {
  return {
    shared_buffers: `${Math.floor(memoryMb / 4)}MB`,
    effective_cache_size: `${Math.floor((memoryMb * 3) / 4)}MB`,
    maintenance_work_mem: `${Math.min(2048, Math.max(64, Math.floor(memoryMb / 16)))}MB`,
  }
}

/** The parameters cook sets in bootstrap.dcs when PGPARAMS does not: the cluster-wide defaults. */
export const DCS_DEFAULTS: Readonly<Record<string, string>> = {
  wal_level: 'replica',
  max_connections: '100',
  max_wal_senders: '10',
  max_replication_slots: '10',
  wal_keep_size: '256MB',
}

export interface Effective {
  name: string
  value: string
  /** Where the value comes from, as `cook check` says it. */
  from: string
  place: Place
}

/** Every PostgreSQL parameter cook sets beyond its fixed ones, with its origin and where it takes effect. */
export function effectivePgParams(
  pgParams: Record<string, string>,
  memoryMb: number | undefined,
): Effective[] {
  const out = new Map<string, Effective>()
  for (const [name, value] of Object.entries(DCS_DEFAULTS))
    out.set(name, { name, value, from: 'cook default', place: 'dcs' })
  if (memoryMb !== undefined)
    for (const [name, value] of Object.entries(memoryDefaults(memoryMb)))
      out.set(name, { name, value, from: `derived from MEMORY=${memoryMb}`, place: 'local' })
  for (const [name, value] of Object.entries(pgParams))
    out.set(name, { name, value, from: 'PGPARAMS', place: placeOf(name) })
  return [...out.values()]
}

/** The values of one place, for patroni.yml. */
export function paramsAt(effective: Effective[], place: Place): Array<{ name: string; value: string }> {
  return effective.filter((e) => e.place === place).map(({ name, value }) => ({ name, value }))
}

/** How a change of the parameter takes effect, from the server's table (unknown without one). */
export function takesEffect(e: Effective, table: SettingsTable | undefined): string {
  const where =
    e.place === 'dcs'
      ? 'DCS (bootstrap.dcs: read when the cluster is created; later `patronictl edit-config`)'
      : 'local (postgresql.parameters in patroni.yml: Patroni reloads it)'
  const context = table?.get(e.name)?.context
  const when =
    context === undefined
      ? ''
      : context === 'postmaster'
        ? '; needs a restart: Patroni shows pending_restart until `patronictl restart`'
        : context === 'internal'
          ? '; fixed at initdb'
          : '; a reload applies it'
  return `${where}${when}`
}
