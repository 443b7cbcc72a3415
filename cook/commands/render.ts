// cook render: validate, then write every file the jail needs under --root; starts nothing.
import { apply } from '../apply.js'
import { defineCommand, PARAM_OPTIONS, PARAM_USAGE } from '../command.js'
import { loadConfigFromOptions, ownersOption } from '../config.js'
import { CookError } from '../errors.js'
import { JAIL_LAYOUT } from '../layout.js'
import { plan } from '../plan.js'
import { readPriorVerifiers } from '../prior.js'
import { verifyPlan } from '../verify.js'

export default defineCommand({
  summary: "Writes every file the jail needs under --root (as if it were the jail's /) and starts nothing.",
  usage: `cook render --root DIR [--dry-run] [--owners apply|record] ${PARAM_USAGE}`,
  options: {
    ...PARAM_OPTIONS,
    root: { type: 'string' },
    'dry-run': { type: 'boolean' },
    owners: { type: 'string' },
  },
  run: async (values, positionals, io) => {
    const root = values.root
    if (!root) throw new CookError('USAGE', 'render needs --root DIR')
    const owners = ownersOption(values)
    const { params, resolved } = loadConfigFromOptions(values, positionals, io.env)
    for (const w of resolved.warnings) io.err(`warning: ${w}`)
    // The role files' verifiers are kept when they still prove their passwords: a re-render changes nothing.
    const p = plan(params, JAIL_LAYOUT, readPriorVerifiers(root))
    verifyPlan(p)
    const dryRun = values['dry-run'] === true
    const changes = apply(p, { root, owners, dryRun })
    for (const c of changes) {
      const mode = c.mode.toString(8).padStart(4, '0')
      const status = dryRun && c.status !== 'unchanged' ? `would be ${c.status}` : c.status
      io.out(
        `${status.padEnd(dryRun ? 16 : 9)} ${mode} ${c.owner.padEnd(8)} ${c.path}${c.detail ? ` (${c.detail})` : ''}`,
      )
      if (c.diff) io.out(c.diff.trimEnd())
    }
    return 0
  },
})
