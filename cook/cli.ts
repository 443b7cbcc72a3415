// The command line: parses options with node:util parseArgs and dispatches to one module per subcommand
// (cook/commands/index.ts). `cook --help` is built from the commands' own usage lines and the schema.
import { parseArgs } from 'node:util'
import type { Command, Io } from './command.js'
import { COMMANDS } from './commands/index.js'
import { CookError } from './errors.js'
import { PARAM_NAMES, PARAMS } from './params.js'
import { VERSION } from './version.js'

export type { Io } from './command.js'

const WIDTH = 100

/** Words of `text` in lines of at most WIDTH columns: the first starts with `indent`, the others with `more`. */
function wrap(text: string, indent: string, more = indent): string[] {
  const lines: string[] = []
  let [line, start] = [indent, indent.length]
  for (const word of text.split(/\s+/)) {
    if (line.length > start && line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      ;[line, start] = [more, more.length]
    }
    line += line.length > start ? ` ${word}` : word
  }
  return [...lines, line]
}

const NEEDS_SUBCOMMAND =
  'NAME=value arguments need a subcommand: `cook run NAME=value` starts the jail with them, ' +
  '`cook check NAME=value` validates them, `cook render --root / --dry-run NAME=value` shows what would change'

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
  const commands = Object.values(COMMANDS).flatMap((c: Command) => [
    ...wrap(c.usage, '  ', '        '),
    ...wrap(c.summary, '      '),
  ])
  return [
    `cook ${VERSION}: configures and runs one Patroni + PostgreSQL member in a pot jail.`,
    '',
    'Usage:',
    ...commands,
    '  cook --help | --version | COMMAND --help',
    '',
    ...wrap(
      "A bare `cook` (options allowed) is `cook run`: the jail's rc.d service and pot.cmd start it so. " +
        `${NEEDS_SUBCOMMAND}; a bare \`cook NAME=value\` exits 64 and changes nothing.`,
      '',
    ),
    '',
    'Options that read parameters:',
    '  --env-file FILE         parameters in dotenv syntax (a safe place for secrets)',
    "  --environment-sh FILE   pot's environment file (default /tmp/environment.sh)",
    '  --dev-allow-loopback    development only: accept a loopback MYIP',
    '  --postgres-bin FILE     the PostgreSQL server PGPARAMS is checked against (default /usr/local/bin/postgres)',
    '',
    'Sources, highest precedence first: NAME=value arguments, the process environment, --env-file,',
    "pot's environment file. Invalid parameters exit with status 78 and one line per problem.",
    '',
    'Parameters (* required depending on DCS or SERVICETAG):',
    ...params,
  ].join('\n')
}

function isCommandName(name: string): name is keyof typeof COMMANDS {
  return Object.hasOwn(COMMANDS, name)
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
    // No subcommand: the jail's start, as rc.d and pot.cmd run it (`cook`, or `cook --nomad`).
    const implicit = first === undefined || first.startsWith('-')
    const name = implicit ? 'run' : first
    if (!isCommandName(name))
      throw new CookError(
        'USAGE',
        name.includes('=')
          ? `${NEEDS_SUBCOMMAND}; see cook --help`
          : `unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}); see cook --help`,
      )
    const command: Command = COMMANDS[name]
    let parsed
    try {
      parsed = parseArgs({
        args: implicit ? argv : rest,
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
    if (implicit && parsed.positionals.length > 0)
      throw new CookError('USAGE', `${NEEDS_SUBCOMMAND}; see cook --help`)
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
