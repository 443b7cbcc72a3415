// cook (no subcommand): the jail's entry point. Seasons or reseasons the jail and starts the services;
// in Nomad mode it then stays in the foreground while Patroni runs.
import { defineCommand, PARAM_OPTIONS, PARAM_USAGE } from '../command.js'
import { isNomadMode, loadConfigFromOptions, ownersOption } from '../config.js'
import { CookError, ParamError } from '../errors.js'
import { freebsd } from '../freebsd.js'
import { stayInForeground } from '../foreground.js'
import { startJail, statePaths } from '../lifecycle.js'
import { StepLog } from '../log.js'
import { join } from 'node:path'
import { scrubTinirc, TINIRC } from '../pot-leftovers.js'
import { jailAddresses, preflight } from '../preflight.js'

export { isNomadMode }

export default defineCommand({
  summary:
    "The jail's start: configures the jail on first start (or when its parameters changed) and starts " +
    'syslogd, consul (DCS=consul), patroni, node_exporter, postgres_exporter and cron in order; ' +
    'with --nomad (or NOMAD_ALLOC_ID set) it then stays in the ' +
    'foreground. A bare `cook`, as the rc.d service and pot.cmd run it, is `cook run`.',
  usage: `cook run [--nomad] [--root DIR] [--owners apply|record] ${PARAM_USAGE}`,
  options: {
    ...PARAM_OPTIONS,
    nomad: { type: 'boolean' },
    root: { type: 'string' },
    owners: { type: 'string' },
  },
  run: async (values, positionals, io) => {
    const root = values.root ?? '/'
    const owners = ownersOption(values)
    const paths = statePaths(root)
    const log = new StepLog({ file: paths.cookLog, out: io.out })
    const sys = freebsd()
    try {
      // First, even when the parameters turn out invalid: the file is readable by every jail user.
      const scrubbed = scrubTinirc(join(root, TINIRC))
      if (scrubbed.removed > 0)
        log.info(
          `warning: removed ${scrubbed.removed} environment line(s) from ${TINIRC}, where pot's start script put the ` +
            "jail's environment (pot set-env) readable by every user of the jail: give secrets in a 0600 file " +
            '(SECRETSFILE or --env-file), not with pot set-env',
        )
      if (scrubbed.leftAlone !== undefined)
        log.info(`warning: left ${TINIRC} alone: it ${scrubbed.leftAlone}, so it is not pot's`)
      const { params, resolved } = loadConfigFromOptions(values, positionals, io.env)
      // The jail must have the addresses the services bind, before anything is written.
      const problems = preflight(params, jailAddresses(), {
        allowLoopback: values['dev-allow-loopback'] === true,
      })
      if (problems.length > 0) throw new ParamError(problems)
      for (const w of resolved.warnings) log.info(`warning: ${w}`)
      await startJail(params, { sys, log, root, owners })
      if (!isNomadMode(values, io.env)) return 0
      return await stayInForeground({
        sys,
        log,
        stopping: paths.stopping,
        stopBoundMs: params.STOPTIMEOUT * 1000,
      })
    } catch (e) {
      // The log holds the reason too: in a jail nobody watches stderr. Parameter messages never show secrets.
      const lines = e instanceof CookError ? e.lines() : [`unexpected: ${(e as Error).message}`]
      for (const line of lines) log.info(`error: ${line}`)
      throw e
    }
  },
})
