// Resolving and validating parameters from the command line's options: shared by every subcommand.
import { backupWarnings } from './backup.js'
import { CookError, ParamError, type Problem } from './errors.js'
import { JAIL_LAYOUT } from './layout.js'
import { validate, type Params } from './params.js'
import { checkAgainstTable, parsePgParams, refusal } from './pgparams.js'
import { findServer, serverVerdicts, type PgServer } from './pgserver.js'
import { resolve, type Resolved } from './sources.js'
import { tlsWarnings } from './tls.js'

export const DEFAULT_ENVIRONMENT_SH = '/tmp/environment.sh'

export interface ConfigOptions {
  envFile?: string | undefined
  environmentSh?: string | undefined
  allowLoopback?: boolean | undefined
  /** Nomad mode (isNomadMode): pot wrote no environment.sh, so /tmp/environment.sh is not read. */
  nomad?: boolean | undefined
  /** The jail's `/`: certificates given as paths are read under it. */
  root?: string | undefined
  /** The PostgreSQL server PGPARAMS is checked against; the jail's when left out. */
  postgresBin?: string | undefined
  args: string[]
  env: Record<string, string | undefined>
}

export interface Config {
  params: Params
  resolved: Resolved
  /** The installed server and its settings table, when there is one. */
  server: PgServer | undefined
}

export const DEFAULT_POSTGRES_BIN = `${JAIL_LAYOUT.pgBinDir}/postgres`

/**
 * The environment.sh cook reads. In Nomad mode pot writes its environment into tinirc, never environment.sh:
 * a file of that name in /tmp is some jail user's. An explicit --environment-sh is the caller's (root's) choice.
 */
export function environmentShPath(opts: Pick<ConfigOptions, 'environmentSh' | 'nomad'>): string | undefined {
  return opts.environmentSh ?? (opts.nomad === true ? undefined : DEFAULT_ENVIRONMENT_SH)
}

/** All problems at once, from the sources, the schema and the installed server, or the validated parameters. */
export function loadConfig(opts: ConfigOptions): Config {
  const resolved = resolve({
    environmentSh: environmentShPath(opts),
    envFile: opts.envFile,
    env: opts.env,
    args: opts.args,
  })
  let params: Params | undefined
  const problems = [...resolved.problems]
  try {
    params = validate(resolved.raw, { allowLoopback: opts.allowLoopback ?? false, root: opts.root ?? '/' })
    resolved.warnings.push(...tlsWarnings(params), ...backupWarnings(params), ...consulAclWarnings(params))
  } catch (e) {
    if (!(e instanceof ParamError)) throw e
    problems.push(...e.problems)
  }
  const server = checkPgParams(resolved, opts.postgresBin ?? DEFAULT_POSTGRES_BIN, problems)
  if (problems.length > 0 || !params) throw new ParamError(problems)
  return { params, resolved, server }
}

/** What a start says when the Consul agent runs without ACLs: logged at every start, as TLS=off is. */
export function consulAclWarnings(p: Pick<Params, 'DCS' | 'CONSULACL'>): string[] {
  return p.DCS === 'consul' && p.CONSULACL === 'off'
    ? [
        'CONSULACL=off: the Consul agent and Patroni use no ACL token, so anyone who reaches the agent on ' +
          "127.0.0.1:8500 (under Nomad's host networking, every process of the host) can write Patroni's keys " +
          '(its configuration, the leader key) and deregister its services',
      ]
    : []
}

/**
 * PGPARAMS against the installed server: its table first (unknown names, with a suggestion), then the server's
 * own verdict on each value. Runs on every item the schema let through, even when other parameters failed, so
 * that one run reports everything; without a server it warns that only the syntax and the owned names were checked.
 */
function checkPgParams(resolved: Resolved, bin: string, problems: Problem[]): PgServer | undefined {
  const text = resolved.raw.PGPARAMS
  const parsed = text === undefined ? undefined : parsePgParams(text)
  if (!parsed || 'why' in parsed) return undefined
  const items = Object.fromEntries(
    Object.entries(parsed.value).filter(([n, v]) => refusal(n, v) === undefined),
  )
  const server = findServer(bin, JAIL_LAYOUT.pgUser)
  if (typeof server === 'string') {
    resolved.warnings.push(
      `PGPARAMS: ${server}; checked only for its syntax and the parameters Patroni and cook own, not against a server`,
    )
    return undefined
  }
  const refused = checkAgainstTable(items, server.table)
  const rest = Object.fromEntries(Object.entries(items).filter(([n]) => !(n in refused)))
  Object.assign(refused, serverVerdicts(server, JAIL_LAYOUT.pgUser, rest))
  for (const [name, why] of Object.entries(refused))
    problems.push({ name: 'PGPARAMS', message: `${name}: ${why} (checked with ${server.bin})` })
  return server
}

/**
 * Nomad's pot driver runs cook as pot.cmd with the task's environment, which always holds NOMAD_ALLOC_ID;
 * the rc.d `cook` service of a jail started by hand does not. `--nomad` forces it either way.
 */
export function isNomadMode(
  values: Record<string, unknown>,
  env: Record<string, string | undefined>,
): boolean {
  return values.nomad === true || (env.NOMAD_ALLOC_ID ?? '') !== ''
}

/** loadConfig from the options every parameter-reading subcommand shares (cli.ts PARAM_OPTIONS). */
export function loadConfigFromOptions(
  values: Record<string, string | boolean | undefined>,
  args: string[],
  env: Record<string, string | undefined>,
): Config {
  return loadConfig({
    envFile: values['env-file'] as string | undefined,
    environmentSh: values['environment-sh'] as string | undefined,
    allowLoopback: values['dev-allow-loopback'] === true,
    nomad: isNomadMode(values, env),
    root: values.root as string | undefined,
    postgresBin: values['postgres-bin'] as string | undefined,
    args,
    env,
  })
}

/** --owners: apply (chown, needs root) by default when running as root, else record. */
export function ownersOption(values: Record<string, string | boolean | undefined>): 'apply' | 'record' {
  const owners = (values.owners as string | undefined) ?? (process.getuid?.() === 0 ? 'apply' : 'record')
  if (owners !== 'apply' && owners !== 'record')
    throw new CookError('USAGE', '--owners takes apply or record')
  return owners
}
