// cook check: validate every parameter and print the result with secrets redacted.
import { defineCommand, PARAM_OPTIONS, PARAM_USAGE } from '../command.js'
import { loadConfigFromOptions } from '../config.js'
import { PARAM_NAMES, redacted } from '../params.js'

export default defineCommand({
  summary: 'Validates the parameters and prints them, every secret shown as <redacted>.',
  usage: `cook check ${PARAM_USAGE}`,
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
    return 0
  },
})
