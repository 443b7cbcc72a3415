// The reseason rules on startSteps alone: given the marker a previous start left, the parameters of this
// one and the services that run now, the exact steps of the start, in order. No jail, no stand-ins:
// each row takes milliseconds, and each names the rule a wrong step list breaks.
import t from 'tap'
import { validate, type RawParams } from '../../cook/params.js'
import { plan, type ServiceName } from '../../cook/plan.js'
import { wantedMarker, type Marker } from '../../cook/seasoned.js'
import { startSteps, type StartStep } from '../../cook/start-steps.js'
import { basicEnv } from '../helpers.js'

const KEY = 'a per-jail key of the tests'
const SINCE = '2026-01-02T03:04:05.000Z'
const ALL: ServiceName[] = ['syslogd', 'consul', 'patroni', 'node_exporter', 'postgres_exporter', 'cron']
const ON_DISK = { BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'k'.repeat(40) }

const params = (over: Record<string, string> = {}) => validate({ ...basicEnv(), ...over } as RawParams)

/** The marker a finished start with these parameters left. */
function markerOf(over: Record<string, string> = {}): Marker {
  const p = params(over)
  return { ...wantedMarker(KEY, p, plan(p)), seasonedAt: SINCE }
}

/** One line per step, so a table row reads like the start's log. */
function show(s: StartStep): string {
  switch (s.kind) {
    case 'announce':
      return s.start === 'reseason' ? `reseason (${s.changed.join(', ')})` : s.start
    case 'render':
      return `render (${s.start})`
    case 'rc-conf':
      return `rc.conf ${s.service}`
    case 'service':
      return `${s.action} ${s.service}`
    case 'already-running':
      return `${s.service} runs`
    default:
      return s.kind
  }
}

interface Given {
  /** The parameters of this start, over test/fixtures/basic.env. */
  now?: Record<string, string>
  /** The marker on disk: none, or the one a start with these parameters left. */
  before?: Record<string, string> | 'none'
  /** Changes to that marker, as an older cook or a damaged file would have left it. */
  edit?: (m: Marker) => Marker
  running?: ServiceName[]
}

function steps(g: Given): string[] {
  const p = params(g.now)
  const marker = g.before === 'none' ? undefined : (g.edit ?? ((m) => m))(markerOf(g.before ?? g.now))
  return startSteps({ params: p, plan: plan(p), key: KEY, marker, running: g.running ?? ALL }).map(show)
}

/** The steps of one service: its rc.conf on a (re)season, what happens to it, then its own wait if it has one. */
function svc(name: ServiceName, what: 'runs' | 'start' | 'reload' | 'restart', rc = true): string[] {
  const wait = { consul: ['wait-consul-leader'], patroni: ['wait-patroni-live'] }[name as string] ?? []
  return [...(rc ? [`rc.conf ${name}`] : []), what === 'runs' ? `${name} runs` : `${what} ${name}`, ...wait]
}
/** An unchanged start where everything runs with what the marker says. */
const ALL_RUN = [...svc('consul', 'runs', false), ...svc('patroni', 'runs', false)]
const EXPORTERS_RUN = [...svc('node_exporter', 'runs'), ...svc('postgres_exporter', 'runs')]
/** A season: the superuser password kept before the render replaces it. */
const FIRST = ['first', 'keep-superuser', 'render (first)']
const SECRET = ['reseason (a secret parameter)', 'keep-superuser', 'render (reseason)']
/** Patroni and the exporters started, the marker written. */
const REST_STARTED = [
  ...svc('patroni', 'start'),
  ...svc('node_exporter', 'start'),
  ...svc('postgres_exporter', 'start'),
  'write-marker',
]

const rows: { rule: string; given: Given; want: string[]; base?: 'restart' }[] = [
  {
    rule: 'first start: keep the old superuser, render, then each service in order, roles before Patroni, marker last',
    given: { before: 'none', running: [] },
    want: [
      'first',
      'keep-superuser',
      'render (first)',
      'rc.conf consul',
      'start consul',
      'wait-consul-leader',
      'rotate-roles',
      'rc.conf patroni',
      'start patroni',
      'wait-patroni-live',
      'rc.conf node_exporter',
      'start node_exporter',
      'rc.conf postgres_exporter',
      'start postgres_exporter',
      'write-marker',
    ],
  },
  {
    rule: 'unchanged: no render, no rc.conf, no role check, no marker; only the waits',
    given: {},
    want: ['unchanged', ...ALL_RUN, 'node_exporter runs', 'postgres_exporter runs', 'all-running'],
  },
  {
    rule: 'unchanged with a service stopped: that one is started, nothing else, the marker stays',
    given: { running: ['consul', 'patroni', 'postgres_exporter'] },
    want: ['unchanged', ...ALL_RUN, 'start node_exporter', 'postgres_exporter runs', 'all-running'],
  },
  {
    rule: 'only patroni.yml changed (TTL): reload Patroni only, no role check',
    given: { now: { TTL: '40' }, before: {} },
    want: [
      'reseason (TTL)',
      'render (reseason)',
      ...svc('consul', 'runs'),
      ...svc('patroni', 'reload'),
      ...EXPORTERS_RUN,
      'write-marker',
    ],
  },
  {
    rule: "only the Consul agent's configuration changed (DATACENTER): restart consul only",
    given: { now: { DATACENTER: 'dc2' }, before: {} },
    want: [
      'reseason (DATACENTER)',
      'render (reseason)',
      ...svc('consul', 'restart'),
      ...svc('patroni', 'runs'),
      ...EXPORTERS_RUN,
      'write-marker',
    ],
  },
  {
    rule: 'a secret changed (KEKPASS): old superuser kept before render, roles rotated before the Patroni reload',
    given: { now: { KEKPASS: 'a new superuser password' }, before: {} },
    want: [
      ...SECRET,
      ...svc('consul', 'runs'),
      'rotate-roles',
      ...svc('patroni', 'reload'),
      // METRICSPASS is derived from KEKPASS: its bcrypt hash in node_exporter's web config changes.
      ...svc('node_exporter', 'restart'),
      // MONPASS is derived from KEKPASS, and the exporter reads its password file only at start.
      ...svc('postgres_exporter', 'restart'),
      'write-marker',
    ],
  },
  {
    rule: 'only the admin role changed (ADMPASS): the roles are checked, no service is refreshed',
    given: { now: { ADMPASS: 'another admin password' }, before: {} },
    want: [
      ...SECRET,
      ...svc('consul', 'runs'),
      'rotate-roles',
      ...svc('patroni', 'runs'),
      ...EXPORTERS_RUN,
      'write-marker',
    ],
  },
  {
    rule: 'only the monitor role changed (MONPASS): restart postgres_exporter only, after the role check',
    given: { now: { MONPASS: 'a monitor password' }, before: {} },
    want: [
      ...SECRET,
      ...svc('consul', 'runs'),
      'rotate-roles',
      ...svc('patroni', 'runs'),
      ...svc('node_exporter', 'runs'),
      ...svc('postgres_exporter', 'restart'),
      'write-marker',
    ],
  },
  {
    rule: 'a marker without service digests (an older cook): every running service refreshed once, marker rewritten',
    given: { edit: (m) => ({ ...m, services: {} }) },
    base: 'restart',
    want: [
      'unchanged',
      ...svc('consul', 'restart', false),
      ...svc('patroni', 'reload', false),
      ...svc('node_exporter', 'restart', false),
      ...svc('postgres_exporter', 'restart', false),
      'write-marker',
    ],
  },
  {
    rule: 'a new cook version alone: a reseason naming no parameter, no service refreshed',
    given: { edit: (m) => ({ ...m, params: '0'.repeat(64) }) },
    want: [
      'reseason ()',
      'render (reseason)',
      ...svc('consul', 'runs'),
      ...svc('patroni', 'runs'),
      ...EXPORTERS_RUN,
      'write-marker',
    ],
  },
  {
    rule: 'no marker but services running (a killed first start): the running ones take the new configuration',
    given: { before: 'none', running: ['consul'] },
    want: [...FIRST, ...svc('consul', 'restart'), 'rotate-roles', ...REST_STARTED],
  },
  {
    rule: 'replica whose Patroni is down: wait for the cluster before the role check and the start',
    given: { now: { SERVICETAG: 'replica' }, running: ['consul', 'node_exporter', 'postgres_exporter'] },
    want: [
      'unchanged',
      ...svc('consul', 'runs', false),
      'wait-cluster',
      ...svc('patroni', 'start', false),
      'node_exporter runs',
      'postgres_exporter runs',
      'all-running',
    ],
  },
  {
    rule: 'replica first start: the cluster wait comes first, then roles, rc.conf and the start of Patroni',
    given: { now: { SERVICETAG: 'replica' }, before: 'none', running: [] },
    want: [...FIRST, ...svc('consul', 'start'), 'wait-cluster', 'rotate-roles', ...REST_STARTED],
  },
  {
    rule: 'replica whose Patroni runs: no cluster wait',
    given: { now: { SERVICETAG: 'replica' } },
    want: ['unchanged', ...ALL_RUN, 'node_exporter runs', 'postgres_exporter runs', 'all-running'],
  },
  {
    rule: 'DCS=etcd: no consul, no Consul leader wait',
    given: { now: { DCS: 'etcd', ETCDHOSTS: '10.0.0.2:2379' }, before: 'none', running: [] },
    want: [...FIRST, 'rotate-roles', ...REST_STARTED],
  },
  {
    // The repository's passphrase (BACKUPCIPHERPASS) is a secret: a new one means the role check too.
    rule: 'backups on: cron (started always) needs nothing; Patroni reloads for its archive_command',
    given: { now: ON_DISK, before: {}, running: ALL },
    want: [
      'reseason (BACKUPREPO, a secret parameter)',
      'keep-superuser',
      'render (reseason)',
      ...svc('consul', 'runs'),
      'rotate-roles',
      ...svc('patroni', 'reload'),
      ...EXPORTERS_RUN,
      'write-marker',
    ],
  },
  {
    rule: 'a new backup schedule: cron notices its file, nothing is restarted',
    given: { now: { ...ON_DISK, BACKUPFULL: '30 2 * * 0' }, before: ON_DISK, running: ALL },
    want: [
      'reseason (BACKUPFULL)',
      'render (reseason)',
      ...svc('consul', 'runs'),
      ...svc('patroni', 'runs'),
      ...EXPORTERS_RUN,
      'write-marker',
    ],
  },
  {
    rule: 'a Nomad start (a new jail, nothing runs): syslogd first, then the image, cron last',
    given: { before: 'none', running: [] },
    want: [...FIRST, ...svc('consul', 'start'), 'rotate-roles', ...REST_STARTED],
  },
]

/**
 * The base system's daemons every start also looks after (cook/plan.ts): syslogd first, cron last; their
 * rc.conf on a (re)season, started unless they run. The rows above list the services of the image.
 */
function withBase(g: Given, want: string[], refresh?: 'restart'): string[] {
  const rc = want[0] !== 'unchanged'
  const running = g.running ?? ALL
  const base = (name: ServiceName) => svc(name, running.includes(name) ? (refresh ?? 'runs') : 'start', rc)
  const at = want.findIndex((w) => w.startsWith('render')) + 1 || 1
  return [...want.slice(0, at), ...base('syslogd'), ...want.slice(at, -1), ...base('cron'), ...want.slice(-1)]
}

for (const row of rows)
  t.test(row.rule, async (t) => t.same(steps(row.given), withBase(row.given, row.want, row.base)))

t.test('the marker written is the one this start wants, and says what each service was given', async (t) => {
  const p = params({ TTL: '40' })
  const all = startSteps({ params: p, plan: plan(p), key: KEY, marker: markerOf(), running: ALL })
  const last = all.at(-1)
  t.equal(last?.kind, 'write-marker')
  if (last?.kind !== 'write-marker') return
  t.same(last.marker, wantedMarker(KEY, p, plan(p)))
  t.not(last.marker.services.patroni, markerOf().services.patroni, "Patroni's new digest")
  t.equal(last.marker.services.consul, markerOf().services.consul, "consul's unchanged")
})

t.test(
  'a reseason names the changed parameters as the log says them, secrets without their value',
  async (t) => {
    const p = params({ TTL: '40', DATACENTER: 'dc2', KEKPASS: 'a new superuser password' })
    const [first] = startSteps({ params: p, plan: plan(p), key: KEY, marker: markerOf(), running: ALL })
    t.same(first, {
      kind: 'announce',
      start: 'reseason',
      since: SINCE,
      changed: ['DATACENTER', 'TTL', 'a secret parameter'],
    })
    t.notOk(JSON.stringify(first).includes('a new superuser password'))
  },
)
