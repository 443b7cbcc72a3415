// Resolving and validating parameters from the command line's options: shared by every subcommand.
import { CookError, ParamError } from './errors.js'
import { validate, type Params } from './params.js'
import { resolve, type Resolved } from './sources.js'
import { tlsWarnings } from './tls.js'

export const DEFAULT_ENVIRONMENT_SH = '/tmp/environment.sh'

export interface ConfigOptions {
  envFile?: string | undefined
  environmentSh?: string | undefined
  allowLoopback?: boolean | undefined
  /** The jail's `/`: certificates given as paths are read under it. */
  root?: string | undefined
  args: string[]
  env: Record<string, string | undefined>
}

export interface Config {
  params: Params
  resolved: Resolved
}

/** All problems at once, from the sources and the schema, or the validated parameters. */
export function loadConfig(opts: ConfigOptions): Config {
  const resolved = resolve({
    environmentSh: opts.environmentSh ?? DEFAULT_ENVIRONMENT_SH,
    envFile: opts.envFile,
    env: opts.env,
    args: opts.args,
  })
  let params: Params | undefined
  const problems = [...resolved.problems]
  try {
    params = validate(resolved.raw, { allowLoopback: opts.allowLoopback ?? false, root: opts.root ?? '/' })
    resolved.warnings.push(...tlsWarnings(params))
  } catch (e) {
    if (!(e instanceof ParamError)) throw e
    problems.push(...e.problems)
  }
  if (problems.length > 0 || !params) throw new ParamError(problems)
  return { params, resolved }
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
    root: values.root as string | undefined,
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
