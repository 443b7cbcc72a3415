// The jail's log rotation. newsyslog runs as root from /etc/crontab, and root's newsyslog renames, chmods,
// chowns and opens by path and signals the pid it reads from a file (newsyslog.c do_rotate, change_attrs,
// log_trim, sigpid). So root's file, /usr/local/etc/newsyslog.conf.d/cook.conf, holds only logs in root's own
// 0755 directories whose pid files are in root's directories too (cook.log, postgres_exporter's output): in
// a directory that postgres or nodeexport can write, one symlink (patroni.out.0 -> /etc/rc.conf) would make
// root chown and chmod any file to that user, and a pid file that user writes would make root kill any process.
// The logs in those users' own directories (patroni.out, pgBackRest's, node_exporter's) are rotated by
// newsyslog run AS THAT USER (-r: no need to be root), from /usr/local/etc/cron.d/newsyslog-users, with a
// file per user outside newsyslog.conf.d (root's newsyslog must not read it): the worst a symlink or a forged
// pid then does is what that user could already do. The user files name no owner: newsyslog then chowns
// nothing and creates the new log as the user it runs as.
// newsyslog has no quoting, so every value must be a word without blanks or `#`; they are all fixed paths,
// checked here all the same.
import { BACKUP_PATHS, backupsOn } from './backup.js'
import { at, PATHS, type Layout } from './layout.js'
import type { Params } from './params.js'
import type { DirEntry, FileEntry } from './plan.js'
import { renderTemplate } from './render.js'

export const NEWSYSLOG_CONF = '/usr/local/etc/newsyslog.conf.d/cook.conf'
/** cron.d: read like /etc/crontab, with a user column; root-owned and not writable by others, or cron skips it. */
export const NEWSYSLOG_CRON = '/usr/local/etc/cron.d/newsyslog-users'
/** The file of the logs `user` rotates itself: outside newsyslog.conf.d, which root's newsyslog includes. */
export const userNewsyslogConf = (user: string) => `/usr/local/etc/newsyslog-${user}.conf`

const WORD = /^[A-Za-z0-9_./*:-]+$/

function word(value: string): string {
  if (!WORD.test(value)) throw new Error(`newsyslog.conf cannot hold ${JSON.stringify(value)}`)
  return value
}

function text(path: string, content: string): FileEntry {
  return { path, content, mode: 0o644, owner: 'root', section: 'logs', format: 'text' }
}

export function newsyslogFile(p: Params, layout: Layout): FileEntry {
  const L = (path: string) => word(at(layout, path))
  return text(
    NEWSYSLOG_CONF,
    renderTemplate('newsyslog.conf', {
      patroniLogDir: L(PATHS.patroniLogDir),
      cookLog: L(PATHS.cookLog),
      pgExporterOut: L(PATHS.pgExporterOut),
      pgExporterPid: L(PATHS.pgExporterSupervisorPid),
      cron: NEWSYSLOG_CRON,
    }),
  )
}

/** The per-user newsyslog files and the cron.d file that runs newsyslog as each of those users. */
export function userNewsyslogFiles(p: Params, layout: Layout): { dirs: DirEntry[]; files: FileEntry[] } {
  const L = (path: string) => word(at(layout, path))
  const pg = word(layout.pgUser)
  const node = word(layout.nodeExporterUser)
  const users = [
    {
      user: pg,
      conf: userNewsyslogConf(pg),
      content: renderTemplate('newsyslog-postgres.conf', {
        patroniOut: L(PATHS.patroniOut),
        pgbackrestLogs: backupsOn(p) ? L(`${BACKUP_PATHS.logDir}/*.log`) : null,
      }),
    },
    {
      user: node,
      conf: userNewsyslogConf(node),
      content: renderTemplate('newsyslog-nodeexport.conf', {
        nodeExporterOut: L(PATHS.nodeExporterOut),
        nodeExporterPid: L(PATHS.nodeExporterSupervisorPid),
      }),
    },
  ]
  return {
    dirs: [{ path: '/usr/local/etc/cron.d', mode: 0o755, owner: 'root' }],
    files: [
      ...users.map((u) => text(u.conf, u.content)),
      text(NEWSYSLOG_CRON, renderTemplate('newsyslog.cron', { users })),
    ],
  }
}
