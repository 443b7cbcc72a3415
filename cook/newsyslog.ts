// The jail's log rotation: /usr/local/etc/newsyslog.conf.d/cook.conf, one newsyslog.conf(5) line per log
// that nothing else rotates (cook.log, Patroni's output, pgBackRest's logs). newsyslog has no quoting, so
// every value must be a word without blanks or `#`; they are all fixed paths, checked here all the same.
import { BACKUP_PATHS, backupsOn } from './backup.js'
import { at, PATHS, type Layout } from './layout.js'
import type { Params } from './params.js'
import type { FileEntry } from './plan.js'
import { renderTemplate } from './render.js'

export const NEWSYSLOG_CONF = '/usr/local/etc/newsyslog.conf.d/cook.conf'

const WORD = /^[A-Za-z0-9_./*:-]+$/

function word(value: string): string {
  if (!WORD.test(value)) throw new Error(`newsyslog.conf cannot hold ${JSON.stringify(value)}`)
  return value
}

export function newsyslogFile(p: Params, layout: Layout): FileEntry {
  const L = (path: string) => word(at(layout, path))
  return {
    path: NEWSYSLOG_CONF,
    content: renderTemplate('newsyslog.conf', {
      patroniLogDir: L(PATHS.patroniLogDir),
      cookLog: L(PATHS.cookLog),
      patroniOut: L(PATHS.patroniOut),
      pgbackrestLogs: backupsOn(p) ? L(`${BACKUP_PATHS.logDir}/*.log`) : null,
      pgUser: word(layout.pgUser),
      nodeExporterOut: L(PATHS.nodeExporterOut),
      nodeExporterPid: L(PATHS.nodeExporterSupervisorPid),
      nodeExporterUser: word(layout.nodeExporterUser),
      pgExporterOut: L(PATHS.pgExporterOut),
      pgExporterPid: L(PATHS.pgExporterSupervisorPid),
    }),
    mode: 0o644,
    owner: 'root',
    section: 'logs',
    format: 'text',
  }
}
