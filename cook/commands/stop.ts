// cook stop: the jail's stop hook. Always exits 0 so it can never keep the jail from stopping.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { defineCommand } from '../command.js'
import { PATHS } from '../layout.js'
import { freebsd } from '../freebsd.js'
import { statePaths } from '../lifecycle.js'
import { StepLog } from '../log.js'
import { stopJail } from '../stop.js'

export default defineCommand({
  summary:
    "The jail's stop hook: stops Patroni (it hands leadership over), then node_exporter, then `consul leave`. " +
    'Bounded by --timeout (default: patroni_stop_timeout from rc.conf, i.e. STOPTIMEOUT); always exits 0.',
  usage: 'cook stop [--timeout SECONDS] [--root DIR]',
  options: { timeout: { type: 'string' }, root: { type: 'string' } },
  run: async (values, _positionals, io) => {
    const root = values.root ?? '/'
    const paths = statePaths(root)
    // `pot create` stops the jail it builds the image in, which runs this hook: a jail the cook never
    // configured has nothing to hand over, and the image must not ship a log or a flag from its build.
    if (!existsSync(join(root, PATHS.rcPatroni))) {
      io.out(
        `cook stop: ${PATHS.rcPatroni} does not exist: the cook never configured this jail; nothing to stop`,
      )
      return 0
    }
    const log = new StepLog({ file: paths.cookLog, out: io.out })
    const text = values.timeout
    const timeoutS = text !== undefined && /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined
    if (text !== undefined && timeoutS === undefined)
      log.info(`--timeout "${text}" is not a number of seconds; ignored`)
    await stopJail({
      sys: freebsd(),
      log,
      stopping: paths.stopping,
      consulTokenFile: join(root, PATHS.consulLeaveToken),
      ...(timeoutS ? { timeoutS } : {}),
    })
    return 0
  },
})
