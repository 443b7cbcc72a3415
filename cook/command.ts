// What a subcommand is: its one-line usage and summary (cook --help is built from them), its options in
// node:util parseArgs form, and a run function typed by those options. Subcommands import this module,
// never cli.ts: cli.ts imports them (cook/commands/index.ts).

/** Where a command's output goes, and the environment it reads parameters from and runs commands with. */
export interface Io {
  out: (line: string) => void
  err: (line: string) => void
  env: Record<string, string | undefined>
}

export interface OptionSpec {
  type: 'string' | 'boolean'
}
export type OptionSpecs = Record<string, OptionSpec>

/** The parsed values of a command's own options: a string option is a string, a flag a boolean. */
export type Values<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** One line for cook --help's list, e.g. `cook stop [--timeout SECONDS] [--root DIR]`. */
  usage: string
  /** What it does, for `cook --help` and `cook NAME --help`. */
  summary: string
  options: O
  // A method, so that a command of narrower options still is a Command (cli.ts calls each with its own).
  run(values: Values<O>, positionals: string[], io: Io): Promise<number>
}

/** Declares a command: `options` types `run`'s values. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command
}

/** Options every subcommand that reads parameters accepts (cook --help explains them once). */
export const PARAM_OPTIONS = {
  'env-file': { type: 'string' },
  'environment-sh': { type: 'string' },
  'dev-allow-loopback': { type: 'boolean' },
  'postgres-bin': { type: 'string' },
} as const satisfies OptionSpecs

/** PARAM_OPTIONS as they read in a usage line. */
export const PARAM_USAGE =
  '[--env-file FILE] [--environment-sh FILE] [--dev-allow-loopback] [--postgres-bin FILE] [NAME=value ...]'
