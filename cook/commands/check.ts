// cook check: validate every parameter and print the result with secrets redacted.
import { defineCommand, PARAM_OPTIONS, PARAM_USAGE } from '../command.js'
import { DEFAULT_POSTGRES_BIN, loadConfigFromOptions } from '../config.js'
import { backupSummary } from '../backup.js'
import { PARAM_NAMES, redacted } from '../params.js'
import { effectivePgParams, takesEffect } from '../pgparams.js'
import { findServer } from '../pgserver.js'

export default defineCommand({
  summary: 'Validates the parameters and prints them, every secret shown as <redacted>.',
  usage: `cook check ${PARAM_USAGE}`,
  options: PARAM_OPTIONS,
  run: async (values, positionals, io) => {
    const { params, resolved, server: checked } = loadConfigFromOptions(values, positionals, io.env)
    // The server's table tells which settings need a restart; without PGPARAMS it was not asked yet.
    const found = checked ?? findServer(values['postgres-bin'] ?? DEFAULT_POSTGRES_BIN, 'postgres')
    const server = typeof found === 'string' ? undefined : found
    for (const w of resolved.warnings) io.err(`warning: ${w}`)
    const shown = redacted(params)
    const width = Math.max(...PARAM_NAMES.map((n) => n.length))
    for (const name of PARAM_NAMES) {
      if (shown[name] === '') continue
      const from = resolved.from[name] ?? 'default'
      io.out(`${name.padEnd(width)}  ${shown[name]}  (${from})`)
    }
    for (const line of backupSummary(params).split('\n')) io.out(line)
    // What PostgreSQL gets beyond cook's fixed settings, and where a change of each takes effect.
    io.out('')
    io.out(
      `PostgreSQL parameters${params.MEMORY === undefined ? ' (no MEMORY: memory settings stay at PostgreSQL defaults)' : ''}:`,
    )
    const effective = effectivePgParams(params.PGPARAMS, params.MEMORY)
    const pad = Math.max(...effective.map((e) => `${e.name} = ${e.value}`.length))
    for (const e of effective)
      io.out(`  ${`${e.name} = ${e.value}`.padEnd(pad)}  ${e.from}; ${takesEffect(e, server?.table)}`)
    return 0
  },
})
