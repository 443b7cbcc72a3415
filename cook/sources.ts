// Where parameters come from, lowest precedence first: pot's /tmp/environment.sh (outside Nomad mode, and
// only when root's alone), an --env-file, the process environment (Nomad), NAME=value arguments.
// Only names of the schema are read.
import { readChecked } from './private-file.js'
import { parse as parseDotenv } from 'dotenv'
import type { Problem } from './errors.js'
import { PARAM_NAMES, PARAMS, type ParamName, type RawParams } from './params.js'

export type SourceName = 'environment.sh' | 'env-file' | 'secrets-file' | 'environment' | 'arguments'

export interface Sources {
  /** pot's environment file (not in Nomad mode); missing is fine, not root's alone is ignored with a warning. */
  environmentSh?: string | undefined
  envFile?: string | undefined
  env?: NodeJS.ProcessEnv | Record<string, string | undefined>
  args?: string[]
}

export interface Resolved {
  raw: RawParams
  from: Partial<Record<ParamName, SourceName>>
  problems: Problem[]
  /** Advice that does not stop the cook (e.g. values pot's shell would have changed). */
  warnings: string[]
}

/** Every name that may carry a parameter: the name, its aliases, and NAME_B64 for secrets and PEM material. */
const NAME_INDEX: Map<string, { name: ParamName; b64: boolean }> = (() => {
  const index = new Map<string, { name: ParamName; b64: boolean }>()
  for (const name of PARAM_NAMES) {
    for (const n of [name, ...(PARAMS[name].aliases ?? [])]) {
      index.set(n, { name, b64: false })
      if (PARAMS[name].secret || PARAMS[name].pem) index.set(`${n}_B64`, { name, b64: true })
    }
  }
  return index
})()

export function isParamKey(key: string): boolean {
  return NAME_INDEX.has(key)
}

/**
 * Reads pot's environment.sh. What pot writes, verified in bsdpot/pot (master of 2025-05, 5ef4db1):
 * - `pot set-env -E VAR=value` (share/pot/set-env.sh) runs `echo "$OPTARG" | sed 's%"%\\"%g'` in a
 *   command substitution and appends `"<that>"` to a temp file; `sed 's/.*\/pot.env=&/'` then prefixes
 *   *every line* of it with `pot.env=` in pot.conf, after deleting all earlier pot.env lines. Only `"` is
 *   escaped (as `\"`); `$`, backticks and `\` are written as they are (FreeBSD sh's echo leaves
 *   backslashes alone without -e); trailing line breaks vanish in the command substitution.
 * - `pot start` (share/pot/start.sh, _js_env) runs `grep '^pot.env=' pot.conf | sed 's/^pot.env=/export /'`
 *   and appends `pot info -E` (unquoted `export _POT_NAME=...`, `export _POT_IP=...`); the result is
 *   copied to the jail's /tmp/environment.sh, or appended to /tmp/tinirc when no-rc-script is YES.
 * So a variable is one line `export "NAME=value"`, and a value with a line break arrives as a first line
 * without its closing quote followed by lines that begin with `export ` (pot's prefix, not the value's).
 * Cook reads the file itself rather than sourcing it, so `$`, backticks and `\` arrive literally; the
 * broken multi-line form is reported, never guessed at. Unquoted lines are pot's own `_POT_*` facts.
 */
export function parseEnvironmentSh(text: string): { vars: Record<string, string>; problems: Problem[] } {
  const vars: Record<string, string> = {}
  const problems: Problem[] = []
  for (const line of text.split('\n')) {
    // `s`: a value may hold \r, U+2028 or U+2029, which pot passes through on the one line.
    const m = /^export "([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(line)
    if (!m) continue
    const [, key = '', rest = ''] = m
    // Every `"` of a value arrives as `\"`, so a line is complete when it ends in a `"` that is not one.
    if (rest.endsWith('"') && !rest.endsWith('\\"')) {
      vars[key] = rest.slice(0, -1).replace(/\\"/g, '"')
    } else if (isParamKey(key)) {
      problems.push({
        name: NAME_INDEX.get(key)?.name ?? key,
        message: `its line in environment.sh has no closing quote: pot set-env cannot carry a line break (or a trailing backslash); want it as ${key.endsWith('_B64') ? key : `${key}_B64`} (base64) or in --env-file`,
      })
    }
  }
  return { vars, problems }
}

/** True when a name in a source carries a secret parameter (NAME or NAME_B64 of a secret). */
function isSecretKey(key: string): boolean {
  const hit = NAME_INDEX.get(key)
  return hit !== undefined && PARAMS[hit.name].secret === true
}

/**
 * A parameter file that gives a secret must be root's alone (cook/private-file.ts); `always` for the file
 * that exists only to hold secrets (SECRETSFILE). Reported under the file's name, without a value.
 */
function privacy(
  name: string,
  why: string | undefined,
  vars: Record<string, string>,
  always: boolean,
): Problem[] {
  if (why === undefined) return []
  const secrets = Object.keys(vars).filter(isSecretKey)
  const notAFile = why === 'is not a regular file' || why === 'is a symbolic link'
  if (!always && !notAFile && secrets.length === 0) return []
  return [
    {
      name,
      message:
        `${why}${secrets.length > 0 ? ` and it gives ${secrets.join(', ')}` : ''}; cook takes secrets only from a ` +
        'regular file owned by root that no other user can read (mode 0600 or 0400)',
    },
  ]
}

function readDotenv(
  path: string,
  name: string,
  always: boolean,
  problems: Problem[],
): Record<string, string> | undefined {
  try {
    const { text, why } = readChecked(path)
    const vars = parseDotenv(text)
    const refused = privacy(name === '--env-file' ? path : `SECRETSFILE (${path})`, why, vars, always)
    problems.push(...refused)
    return refused.length > 0 ? undefined : vars
  } catch (e) {
    problems.push({
      name,
      message: `cannot be read: ${(e as Error).message}; want a readable file in dotenv syntax`,
    })
    return undefined
  }
}

/**
 * Nomad's pot driver hands every task variable to one `pot set-env` (bsdpot/nomad-pot-driver, prepare.go):
 * a secret there is in the host's process list and pot.conf, and pot's start.sh appends it to the jail's
 * /tmp/tinirc, mode 0755. So a Nomad task (NOMAD_ALLOC_ID set) takes no secret from its environment.
 */
function nomadEnvSecrets(env: Record<string, string | undefined>): Problem[] {
  if ((env.NOMAD_ALLOC_ID ?? '') === '') return []
  return Object.entries(env)
    .filter(([key, value]) => isSecretKey(key) && value !== undefined && value !== '')
    .map(([key]) => ({
      name: NAME_INDEX.get(key)?.name ?? key,
      message:
        `${key} came through the environment of a Nomad task, which the pot driver passes to \`pot set-env\` ` +
        "(the host's pot.conf and process list, the jail's /tmp/tinirc); want it in the job's secrets " +
        'template (perms 0600), read through SECRETSFILE',
    }))
}

/** A name that is safe to repeat in an error: what else stands before `=` might be a pasted secret. */
function shownName(key: string, position: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? key : position
}

/** NAME=value arguments; anything else is a usage problem, reported without its text (it may be a secret). */
export function parseArgs(args: string[]): { vars: Record<string, string>; problems: Problem[] } {
  const vars: Record<string, string> = {}
  const problems: Problem[] = []
  args.forEach((arg, i) => {
    const eq = arg.indexOf('=')
    if (eq <= 0)
      problems.push({
        name: isParamKey(arg) ? arg : `argument ${i + 1}`,
        message: 'is not a NAME=value argument; want NAME=value after the options',
      })
    else vars[arg.slice(0, eq)] = arg.slice(eq + 1)
  })
  return { vars, problems }
}

function decodeB64(text: string): string | undefined {
  const compact = text.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) return undefined
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'))
  } catch {
    return undefined
  }
}

function suggest(key: string): string {
  const near = [...NAME_INDEX.keys()].find((n) => n.length > 3 && (n.startsWith(key) || key.startsWith(n)))
  return near ? ` (did you mean ${near}?)` : ''
}

/**
 * Merges the sources into raw parameter text. Within one source, a name given twice under different
 * spellings (MYIP and IP, KEKPASS and KEKPASS_B64) is an error; across sources the higher one wins.
 * Unknown names are errors in the sources an operator writes for the cook (arguments, --env-file) and
 * ignored in the environment, which holds much else (NOMAD_*, PATH).
 */
export function resolve(sources: Sources): Resolved {
  const raw: RawParams = {}
  const from: Resolved['from'] = {}
  const problems: Problem[] = []
  const warnings: string[] = []

  const layers: { source: SourceName; vars: Record<string, string | undefined>; strict: boolean }[] = []
  if (sources.environmentSh !== undefined) {
    // The file lies in the jail's world-writable /tmp: where pot wrote none (a Nomad or no-rc jail), any jail
    // user may create one. So it counts only when it is root's alone, whatever it holds, and a file that is
    // not is ignored with a warning (its name and why, never its text) so that a planted one cannot stop the jail.
    const path = sources.environmentSh
    let text: string | undefined
    let why: string | undefined
    try {
      ;({ text, why } = readChecked(path))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') why = `cannot be read (${(e as Error).message})`
    }
    if (why !== undefined)
      warnings.push(
        `${path}: ignored, it ${why}; cook reads pot's environment file only when it is a regular file owned ` +
          'by root that no other user can read or change (pot writes it 0600)',
      )
    else if (text !== undefined) {
      const parsed = parseEnvironmentSh(text)
      problems.push(...parsed.problems)
      layers.push({ source: 'environment.sh', vars: parsed.vars, strict: false })
      for (const [key, value] of Object.entries(parsed.vars))
        if (isParamKey(key) && /[$`\\]/.test(value))
          warnings.push(
            `${key}: contains $, \` or \\; taken literally from environment.sh, but a jail started by Nomad ` +
              `(or a shell that sources the file) would expand it: prefer ${key.endsWith('_B64') ? key : `${key}_B64`}`,
          )
    }
  }
  if (sources.envFile !== undefined) {
    const file = readDotenv(sources.envFile, '--env-file', false, problems)
    if (file) layers.push({ source: 'env-file', vars: file, strict: true })
  }
  let args: Record<string, string> | undefined
  if (sources.args) {
    const parsed = parseArgs(sources.args)
    problems.push(...parsed.problems)
    args = parsed.vars
  }
  // SECRETSFILE names the file the secrets are in (Nomad: the job's 0600 template); it comes from any other source.
  const secretsFile = [args, sources.env, ...layers.map((l) => l.vars).reverse()]
    .map((vars) => vars?.SECRETSFILE)
    .find((v) => v !== undefined && v !== '')
  if (secretsFile !== undefined && secretsFile.startsWith('/')) {
    const file = readDotenv(secretsFile, 'SECRETSFILE', true, problems)
    if (file) layers.push({ source: 'secrets-file', vars: file, strict: true })
  }
  if (sources.env) {
    layers.push({ source: 'environment', vars: sources.env, strict: false })
    problems.push(...nomadEnvSecrets(sources.env))
  }
  if (args) layers.push({ source: 'arguments', vars: args, strict: true })

  for (const layer of layers) {
    const seen = new Map<ParamName, string>()
    for (const [key, value] of Object.entries(layer.vars)) {
      if (value === undefined) continue
      const hit = NAME_INDEX.get(key)
      if (!hit) {
        if (layer.strict)
          problems.push({
            name: shownName(key, `a name in the ${layer.source}`),
            message: `is not a parameter of this image${suggest(key)}; want a name that cook --help lists`,
          })
        continue
      }
      let text: string | undefined = value
      if (hit.b64) {
        text = decodeB64(value)
        if (text === undefined) {
          problems.push({
            name: hit.name,
            message: `${key} is not base64 of UTF-8 text; want ${key}=<the value in base64>`,
          })
          continue
        }
      }
      const earlier = seen.get(hit.name)
      if (earlier !== undefined && earlier !== key) {
        problems.push({
          name: hit.name,
          message: `is given twice in the ${layer.source} (${earlier} and ${key}); want one of them`,
        })
        continue
      }
      seen.set(hit.name, key)
      raw[hit.name] = text
      from[hit.name] = layer.source
      if (layer.source === 'arguments' && PARAMS[hit.name].secret && text !== '')
        warnings.push(
          `${hit.name}: given as an argument, which any process in the jail can read (ps); prefer the environment or --env-file`,
        )
    }
  }
  return { raw, from, problems, warnings }
}
