// Where each service of the plan writes its log: the hint a failed wait or a crash message points to.
import { PATHS } from './layout.js'
import type { ServiceName } from './plan.js'

export const LOGS: Record<ServiceName, string> = {
  consul: `${PATHS.consulLogDir}/`,
  patroni: `${PATHS.patroniLogDir}/patroni.log`,
  node_exporter: '/var/log/messages',
  cron: '/var/log/cron',
  syslogd: '/var/log/messages',
  postgres_exporter: '/var/log/messages',
}
