// The command line: parses options with node:util parseArgs and dispatches to one module per subcommand.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CookError } from './errors.js'
import { PARAM_NAMES, PARAMS } from './params.js'
import { VERSION } from './version.js'

export interface Io {
  out: (line: string) => void
  err: (line: string) => void
  env: Record<string, string | undefined>
}

export interface Command {
  summary: string
  usage: string
  options: NonNullable<ParseArgsConfig['options']>
  run: (
    values: Record<string, string | boolean | undefined>,
    positionals: string[],
    io: Io,
  ) => Promise<number>
}

/** Options every subcommand that reads parameters accepts. */
export const PARAM_OPTIONS = {
  'env-file': { type: 'string' },
  'environment-sh': { type: 'string' },
  'dev-allow-loopback': { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>

const COMMANDS: Record<string, () => Promise<Command>> = {
  check: async () => (await import('./commands/check.js')).default,
  render: async () => (await import('./commands/render.js')).default,
  haproxy: async () => (await import('./commands/haproxy.js')).default,
  run: async () => (await import('./commands/run.js')).default,
  stop: async () => (await import('./commands/stop.js')).default,
  status: async () => (await import('./commands/status.js')).default,
}

export function helpText(): string {
  const width = Math.max(...PARAM_NAMES.map((n) => n.length))
  const params = PARAM_NAMES.map((name) => {
    const spec = PARAMS[name]
    const required =
      typeof spec.required === 'function' ? 'required*' : spec.required ? 'required' : 'optional'
    const extra = [
      spec.aliases?.length ? `alias ${spec.aliases.join(', ')}` : '',
      spec.defaultDoc ? `default: ${spec.defaultDoc}` : '',
      spec.secret ? `secret, or ${name}_B64 in base64` : '',
    ].filter(Boolean)
    return `  ${name.padEnd(width)}  ${required.padEnd(9)}  ${spec.doc}${extra.length ? ` (${extra.join('; ')})` : ''}`
  })
  return [
    `cook ${VERSION}: configures and runs one Patroni + PostgreSQL member in a pot jail.`,
    '',
    'Usage:',
    '  cook [--nomad] [options] [NAME=value ...]',
    '                                           configure on first start (or when the parameters changed),',
    '                                           start the services; --nomad (or NOMAD_ALLOC_ID set): stay in',
    '                                           the foreground while Patroni runs',
    "  cook stop [--timeout SECONDS]            the jail's stop hook: hand over, stop the services; exits 0",
    '  cook check [options] [NAME=value ...]    validate and print the parameters, secrets redacted',
    '  cook status [--json] [options]           this member at a glance (reads only); exit 0 healthy,',
    '                                           1 warning, 2 critical',
    '  cook render --root DIR [--dry-run] [options] [NAME=value ...]',
    '                                           write every file the jail needs under DIR; start nothing',
    '  cook haproxy --members [NAME=]HOST[:RESTPORT:PGPORT],... [--bind ADDR] [--out FILE]',
    '                                           print the HAProxy configuration for clients (:5000 primary,',
    '                                           :5001 replicas), checked through each Patroni REST API',
    '  cook --help | --version',
    '',
    'Options that read parameters:',
    '  --env-file FILE         parameters in dotenv syntax (a safe place for secrets)',
    "  --environment-sh FILE   pot's environment file (default /tmp/environment.sh)",
    '  --dev-allow-loopback    development only: accept a loopback MYIP',
    '',
    'Sources, highest precedence first: NAME=value arguments, the process environment, --env-file,',
    "pot's environment file. Invalid parameters exit with status 78 and one line per problem.",
    '',
    'Parameters (* required depending on DCS or SERVICETAG):',
    ...params,
  ].join('\n')
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const [first, ...rest] = argv
    if (first === '--version' || first === '-V') {
      io.out(VERSION)
      return 0
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      io.out(helpText())
      return 0
    }
    const name = first === undefined || first.startsWith('-') || first.includes('=') ? 'run' : first
    const loader = COMMANDS[name]
    if (!loader) throw new CookError('USAGE', `unknown command "${name}"; see cook --help`)
    const command = await loader()
    const args = name === 'run' ? argv : rest
    let parsed
    try {
      parsed = parseArgs({
        args,
        options: { ...command.options, help: { type: 'boolean' } },
        allowPositionals: true,
      })
    } catch (e) {
      throw new CookError('USAGE', `${(e as Error).message}\nusage: ${command.usage}`)
    }
    if (parsed.values.help) {
      io.out(`${command.summary}\nusage: ${command.usage}`)
      return 0
    }
    return await command.run(parsed.values, parsed.positionals, io)
  } catch (e) {
    if (e instanceof CookError) {
      for (const line of e.lines()) io.err(line)
      return e.exitCode
    }
    io.err(`cook: unexpected error: ${(e as Error).stack ?? String(e)}`)
    return 70
  }
}
