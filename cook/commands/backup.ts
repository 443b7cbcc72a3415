// cook backup: take a pgBackRest backup now, on the leader. It runs the same script as the scheduled
// backups (cook-backup, rendered by the plan), as the postgres user; the script refuses on a replica.
import { join } from 'node:path'
import { defineCommand } from '../command.js'
import { BACKUP_PATHS, backupScriptArgv } from '../backup.js'
import { CookError } from '../errors.js'
import { run } from '../shell.js'

const TYPES = ['full', 'diff', 'incr']

export default defineCommand({
  summary:
    'Takes a pgBackRest backup now (default full) on this member if it is the leader; refuses on a replica. ' +
    'Runs as the postgres user, as the scheduled backups do.',
  usage: 'cook backup [--type full|diff|incr] [--root DIR]',
  options: { type: { type: 'string' }, root: { type: 'string' } },
  run: async (values, positionals, io) => {
    if (positionals.length > 0)
      throw new CookError('USAGE', `unexpected argument(s): ${positionals.join(' ')}; see cook backup --help`)
    const type = values.type ?? 'full'
    if (!TYPES.includes(type)) throw new CookError('USAGE', `--type takes full, diff or incr, not "${type}"`)
    const script = join(values.root ?? '/', BACKUP_PATHS.backupScript)
    const argv = backupScriptArgv(values.root ?? '/', [type], process.getuid?.())
    const r = await run(argv, { env: io.env as NodeJS.ProcessEnv })
    if (r.stdout.trim()) io.out(r.stdout.trimEnd())
    if (r.exitCode === 127 || (/not found|No such file/.test(r.stderr) && r.exitCode !== 0))
      throw new CookError(
        'USAGE',
        `${script} is missing: backups are off (BACKUPREPO=off) or this jail was not configured by cook`,
      )
    if (r.exitCode !== 0)
      throw new CookError('SERVICE_FAILED', r.stderr.trim() || `cook-backup exited with ${r.exitCode}`)
    if (r.stderr.trim()) io.err(r.stderr.trimEnd())
    io.out(`cook backup: ${type} backup taken`)
    return 0
  },
})
