// cook check: validate every parameter and print the result with secrets redacted.
import { PARAM_OPTIONS, type Command } from '../cli.js'
import { loadConfigFromOptions } from '../config.js'
import { backupSummary } from '../backup.js'
import { PARAM_NAMES, redacted } from '../params.js'

const check: Command = {
  summary: 'Validates the parameters and prints them, every secret shown as <redacted>.',
  usage: 'cook check [--env-file FILE] [--environment-sh FILE] [--dev-allow-loopback] [NAME=value ...]',
  options: PARAM_OPTIONS,
  run: async (values, positionals, io) => {
    const { params, resolved } = loadConfigFromOptions(values, positionals, io.env)
    for (const w of resolved.warnings) io.err(`warning: ${w}`)
    const shown = redacted(params)
    const width = Math.max(...PARAM_NAMES.map((n) => n.length))
    for (const name of PARAM_NAMES) {
      if (shown[name] === '') continue
      const from = resolved.from[name] ?? 'default'
      io.out(`${name.padEnd(width)}  ${shown[name]}  (${from})`)
    }
    for (const line of backupSummary(params).split('\n')) io.out(line)
    return 0
  },
}
export default check
