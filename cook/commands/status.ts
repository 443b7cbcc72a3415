// cook status: this member at a glance, for an operator (text) or a script (--json, and the exit code).
import { defineCommand, PARAM_OPTIONS, PARAM_USAGE } from '../command.js'
import { loadConfigFromOptions } from '../config.js'
import { statePaths } from '../lifecycle.js'
import { memberStatus, statusText } from '../status.js'

export default defineCommand({
  summary:
    'Shows this member: parameters and seasoned marker, each service, Patroni role, timeline, lag and sync ' +
    'state, the DCS, WAL archiving, the last backup, certificate expiry and the cluster as Patroni sees it. ' +
    'Reads only. Exit 0 healthy, 1 warning, 2 critical (the reasons are listed).',
  usage: `cook status [--json] [--root DIR] ${PARAM_USAGE}`,
  options: { ...PARAM_OPTIONS, json: { type: 'boolean' }, root: { type: 'string' } },
  run: async (values, positionals, io) => {
    const { params } = loadConfigFromOptions(values, positionals, io.env)
    const paths = statePaths(values.root ?? '/')
    const report = await memberStatus(params, {
      seasoned: paths.seasoned,
      digestKey: paths.digestKey,
      root: values.root ?? '/',
      env: io.env,
    })
    if (values.json === true) io.out(JSON.stringify(report, null, 2))
    else for (const line of statusText(report)) io.out(line)
    return report.exitCode
  },
})
