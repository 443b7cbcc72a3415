// Rotating a password. The roles live in the leader's pg_authid and replicas hold a copy of it, while each
// member's Patroni logs in with the passwords of its own patroni.yml. So a new KEKPASS, REPPASS, REWINDPASS
// or ADMPASS must reach the leader's roles *before* a member's Patroni uses it; connections that are
// already open (streaming replicas, each Patroni's own session) survive the change, so a member that still
// has the old value keeps working until it is reseasoned. Cook does this at every start that may bring a
// new secret: it finds the leader in the DCS, logs in as the superuser (the local socket when this member
// leads, else the leader's own address), and sends each role whose verifier does not match its parameter a
// new SCRAM verifier: no plaintext reaches the server, argv or a log.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parse } from 'yaml'
import { CookError } from './errors.js'
import { at, PATHS, PG_CLIENT_ENV, type Layout } from './layout.js'
import type { StepLog } from './log.js'
import type { ParamName, Params } from './params.js'
import { dcsLeader, dcsStandbyCluster, type LeaderAddress } from './probes.js'
import { pgpass as pgpassField, sql } from './quote.js'
import { scramMatches, scramVerifier } from './secrets.js'
import { commandLine, run } from './shell.js'
import { patroniTls } from './tls-files.js'
import { poll } from './wait.js'

/** The roles whose password is a parameter (Patroni creates the first three, post-bootstrap the admin). */
export const ROLE_PASSWORDS: readonly { role: string; param: ParamName }[] = [
  { role: 'postgres', param: 'KEKPASS' },
  { role: 'replicator', param: 'REPPASS' },
  { role: 'rewinder', param: 'REWINDPASS' },
  { role: 'admin', param: 'ADMPASS' },
  { role: 'monitor', param: 'MONPASS' },
]

const SUPERUSER = 'postgres'

export interface RotateOptions {
  log: StepLog
  /** The local Consul agent (DCS=consul). */
  consulHttp: string
  /** Where psql is and where the local PostgreSQL's socket is. */
  layout: Layout
  /**
   * Superuser passwords the leader may still have when KEKPASS is changing: OLDKEKPASS, and the password in
   * this member's patroni.yml as it was before this start rendered it. Tried after KEKPASS.
   */
  previous: (string | undefined)[]
  /** How long the leader may stay unreachable (a failover in progress) before the start fails. */
  timeoutMs: number
  intervalMs: number
}

export type RotateResult =
  | { kind: 'no-leader' }
  | {
      kind: 'checked'
      leader: string
      local: boolean
      rotated: string[]
      missing: string[]
      /** Roles that differ, left alone: a standby cluster's roles come from its remote primary. */
      standby: string[]
    }

/** The superuser password of a patroni.yml that cook wrote before; undefined when there is none. */
export function renderedSuperuserPassword(patroniYml: string): string | undefined {
  let text: string
  try {
    text = readFileSync(patroniYml, 'utf8')
  } catch {
    return undefined
  }
  try {
    const doc = parse(text) as {
      postgresql?: { authentication?: { superuser?: { password?: unknown } } }
    } | null
    const pw = doc?.postgresql?.authentication?.superuser?.password
    return typeof pw === 'string' && pw !== '' ? pw : undefined
  } catch {
    return undefined
  }
}

/**
 * Keeps the superuser password that this start's render replaces (root-only, 0600) until the leader's roles
 * have the new one: a start killed in between has rendered the new patroni.yml, and the next start can only
 * log in to the leader with the old password. Removed by `forgetSuperuser` once the roles are checked.
 */
export function rememberSuperuser(path: string, password: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const temp = `${path}.tmp`
  rmSync(temp, { force: true })
  writeFileSync(temp, password, { mode: 0o600, flag: 'wx' })
  renameSync(temp, path)
}

export function rememberedSuperuser(path: string): string | undefined {
  try {
    const pw = readFileSync(path, 'utf8')
    return pw === '' ? undefined : pw
  } catch {
    return undefined
  }
}

export function forgetSuperuser(path: string): void {
  rmSync(path, { force: true })
}

/**
 * Makes the leader's roles carry the passwords in `p`. Returns which roles it changed (names only); when
 * the DCS names no leader (a cluster not yet created, or one without a leader right now) it changes nothing.
 * Fails when the leader refuses every superuser password cook knows: then this member's KEKPASS is neither
 * the cluster's current one nor its successor, and starting Patroni with it would only lock it out.
 */
export async function rotateRoles(p: Params, o: RotateOptions): Promise<RotateResult> {
  const candidates = [p.KEKPASS, ...o.previous].filter(
    (pw, i, all): pw is string => pw !== undefined && pw !== '' && all.indexOf(pw) === i,
  )
  let target = ''
  const polled = await poll(
    async (): Promise<RotateResult | undefined> => {
      // A DCS that does not answer names no leader: Patroni cannot lead or follow without it either, and a
      // first start must not wait here for a DCS that only comes up later.
      const leader = await dcsLeader(p, o.consulHttp).catch((e: unknown) => {
        o.log.info(`${p.DCS} did not answer (${(e as Error).message})`)
        return undefined
      })
      if (!leader) return { kind: 'no-leader' }
      const conn = connection(p, leader, o.layout)
      target = conn.shown
      return await rotateOn(p, leader, conn, candidates, o)
    },
    { timeoutMs: o.timeoutMs, intervalMs: o.intervalMs, fatal: (e) => e instanceof CookError },
  )
  if (polled.ok) {
    report(p, polled.value, o.log)
    return polled.value
  }
  throw new CookError(
    'SERVICE_FAILED',
    `the cluster's leader${target ? ` (${target})` : ''} did not answer within ${o.timeoutMs / 1000} s ` +
      `(last: ${polled.last ?? 'not ready'}): the roles' passwords could not be checked, so Patroni is not ` +
      `given new ones; see the leader's ${PATHS.patroniLogDir}/patroni.log`,
  )
}

/** Names the roles that changed, never a value. */
function report(p: Params, r: RotateResult, log: StepLog): void {
  if (r.kind === 'no-leader') {
    log.info(
      `no leader in ${p.DCS} right now: no role to check (a new cluster's bootstrap creates them with these passwords)`,
    )
    return
  }
  const where = `on the leader ${r.leader}${r.local ? ' (this member, through the local socket)' : ''}`
  if (r.rotated.length > 0) log.info(`rotated ${where}: ${r.rotated.join(', ')}`)
  else log.info(`every role already has its password ${where}`)
  if (r.standby.length > 0)
    log.info(
      `the leader ${r.leader} leads a standby cluster: its roles come from the primary cluster (STANDBYHOST), ` +
        `so change these passwords there: ${r.standby.join(', ')}`,
    )
  if (r.missing.length > 0)
    log.info(`no role ${r.missing.join(', ')} ${where}: left to Patroni's bootstrap and post-bootstrap`)
}

interface Connection {
  host: string
  port: number
  local: boolean
  /** The CA that verifies the leader's certificate (TLS on, over TCP): hostssl lines refuse anything else. */
  ca?: string | undefined
  /** For messages. */
  shown: string
}

function connection(p: Params, leader: LeaderAddress, layout: Layout): Connection {
  // This member leads: the local socket, as Patroni itself connects (use_unix_socket).
  if (leader.name === p.NODENAME) {
    const socket = at(layout, PATHS.pgSocketDir)
    return { host: socket, port: 5432, local: true, shown: `${leader.name}, the local socket in ${socket}` }
  }
  return {
    host: leader.host,
    port: leader.port,
    local: false,
    ca: patroniTls(p, layout)?.ca,
    shown: `${leader.name} at ${leader.host}:${leader.port}`,
  }
}

async function rotateOn(
  p: Params,
  leader: LeaderAddress,
  conn: Connection,
  candidates: string[],
  o: RotateOptions,
): Promise<RotateResult> {
  const names = ROLE_PASSWORDS.map((r) => sql(r.role)).join(', ')
  // The first row ('' cannot be a role's name) says whether the leader is in recovery; the second (' ' cannot
  // be one either) whether admin holds CREATEROLE on a major where that makes it the OS user (admin-role.sql).
  const read =
    `${QUIET}SELECT '', pg_catalog.pg_is_in_recovery()::text UNION ALL ` +
    `SELECT ' ', (pg_catalog.current_setting('server_version_num')::int < 160000 AND rolcreaterole)::text ` +
    `FROM pg_catalog.pg_authid WHERE rolname = 'admin' UNION ALL ` +
    `SELECT rolname, coalesce(rolpassword, '') FROM pg_catalog.pg_authid WHERE rolname IN (${names});\n`
  for (const [i, password] of candidates.entries()) {
    const r = await psql(conn, password, read, o.layout)
    if (r.refused) continue
    if (i > 0) o.log.info(`the leader still has the previous superuser password: KEKPASS is new`)
    const stored = new Map(
      r.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const [role = '', verifier = ''] = line.split('\t')
          return [role, verifier] as const
        }),
    )
    const createrole = stored.get(' ') === 'true'
    stored.delete(' ')
    const missing = ROLE_PASSWORDS.filter((x) => !stored.has(x.role)).map((x) => x.role)
    const stale = ROLE_PASSWORDS.filter(
      (x) => stored.has(x.role) && !scramMatches(stored.get(x.role) ?? '', p[x.param] as string),
    )
    const named = (list: typeof stale) => list.map((x) => `${x.role} (${x.param})`)
    if ((stale.length > 0 || createrole) && stored.get('') === 'true') {
      // A standby leader replays its roles from the remote primary and cannot change them; any other
      // leader in recovery is still being promoted: ask again.
      if (!(await dcsStandbyCluster(p, o.consulHttp)))
        throw new Error(`the leader ${conn.shown} is still in recovery (a promotion under way)`)
      return {
        kind: 'checked',
        leader: leader.name,
        local: conn.local,
        rotated: [],
        missing,
        standby: named(stale),
      }
    }
    if (stale.length > 0 || createrole) {
      // One transaction: the roles change together or not at all. Verifiers only, never the plaintext.
      const alter = stale
        .map((x) => `ALTER ROLE ${quoteIdent(x.role)} PASSWORD ${sql(scramVerifier(p[x.param] as string))};`)
        // A cluster an older image created on PostgreSQL 15 or older: admin's CREATEROLE goes.
        .concat(createrole ? ['ALTER ROLE admin NOCREATEROLE;'] : [])
        .join('\n')
      const w = await psql(conn, password, `${QUIET}BEGIN;\n${alter}\nCOMMIT;\n`, o.layout)
      if (w.refused) throw new Error(`the leader ${conn.shown} refused the login it accepted a moment ago`)
    }
    return {
      kind: 'checked',
      leader: leader.name,
      local: conn.local,
      rotated: named(stale).concat(createrole ? ['admin (CREATEROLE removed)'] : []),
      missing,
      standby: [],
    }
  }
  throw new CookError(
    'SERVICE_FAILED',
    `the leader ${conn.shown} refuses the superuser "${SUPERUSER}" with KEKPASS and with every previous ` +
      `password cook knows (this member's patroni.yml${p.OLDKEKPASS === undefined ? '' : ', OLDKEKPASS'}): ` +
      "this member's KEKPASS is not the cluster's; when rotating KEKPASS, give the cluster's current one as " +
      'OLDKEKPASS (see the README, "Rotating passwords")',
  )
}

/**
 * Settings for the session that carries verifiers, as Patroni's own role changes use them: nothing of the
 * statement reaches the server log, and a synchronous cluster without a sync standby cannot block it.
 */
const QUIET = [
  "SET log_statement = 'none';",
  'SET log_min_duration_statement = -1;',
  "SET log_min_error_statement = 'panic';",
  "SET synchronous_commit = 'local';",
  '',
].join('\n')

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * psql as the superuser with the SQL on stdin and the password in a 0600 pgpass file of a private
 * directory, removed at once: neither is ever in argv.
 */
async function psql(
  conn: Connection,
  password: string,
  script: string,
  layout: Layout,
): Promise<{ stdout: string; refused: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'cook-rotate-'))
  try {
    const pgpass = join(dir, 'pgpass')
    // Only for the server this connection goes to: the password is offered to nothing else.
    const line = [pgpassField(conn.host), String(conn.port), '*', SUPERUSER, pgpassField(password)].join(':')
    writeFileSync(pgpass, `${line}\n`, { mode: 0o600 })
    const argv = [
      `${layout.pgBinDir}/psql`,
      '-X',
      '-q',
      '-A',
      '-t',
      '-F',
      '\t',
      '-v',
      'ON_ERROR_STOP=1',
      '-w',
      '-h',
      conn.host,
      '-p',
      String(conn.port),
      '-U',
      SUPERUSER,
      '-d',
      'postgres',
    ]
    const r = await run(argv, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGPASSFILE: pgpass,
        PGCONNECT_TIMEOUT: '5',
        PGAPPNAME: 'cook-rotate',
        PGCLIENTENCODING: 'UTF8',
        ...PG_CLIENT_ENV,
        // As the replicas connect (patroni.yml: verify-full): the leader must prove it is the leader.
        ...(conn.ca === undefined ? {} : { PGSSLMODE: 'verify-full', PGSSLROOTCERT: conn.ca }),
      },
      input: script,
      timeoutMs: 30_000,
    })
    if (r.exitCode === 0) return { stdout: r.stdout, refused: false }
    if (/password authentication failed|no password supplied/.test(r.stderr))
      return { stdout: '', refused: true }
    // psql echoes a failed statement after `LINE n:`; a verifier must not reach the cook's log that way.
    const said = r.stderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !/^\s*LINE \d+:|SCRAM-SHA-256\$|^\s*\^/.test(line))
      .join('; ')
    throw new Error(`${commandLine(argv)}: ${said || `exit code ${r.exitCode ?? r.signal}`}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
