// What the operator parameters put into patroni.yml, read back by PyYAML (what Patroni reads it with): member
// tags, failsafe_mode, permanent slots, the standby slot, and where PGPARAMS and MEMORY values land.
import t from 'tap'
import { PATHS } from '../../cook/layout.js'
import { ParamError } from '../../cook/errors.js'
import { type RawParams, validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { basicEnv } from '../helpers.js'
import { pyyaml } from '../hostile.js'
import { tlsFixture } from '../tls-fixture.js'

type Doc = {
  tags: Record<string, unknown>
  bootstrap: { dcs: Record<string, unknown> & { postgresql: { parameters: Record<string, unknown> } } }
  postgresql: { parameters: Record<string, unknown> }
}

const STANDBY = { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11' }
const VARIANTS: Record<string, Record<string, string>> = {
  plain: {},
  tagged: {
    SERVICETAG: 'replica',
    NOFAILOVER: 'on',
    NOSYNC: 'yes',
    NOLOADBALANCE: '1',
    REPLICATEFROM: 'pg2',
  },
  noFailsafe: { FAILSAFE: 'off' },
  slots: { SLOTS: 'dr sub:logical:app:wal2json', PGPARAMS: 'wal_level=logical' },
  standbySlot: { ...STANDBY, STANDBYSLOT: 'dr_1' },
  standbyScope: { ...STANDBY, SCOPE: 'orders-db' },
  params: {
    MEMORY: '4096',
    PGPARAMS: "work_mem=16MB max_connections=300 shared_buffers=1GB log_line_prefix='%m [%p] '",
  },
}

// One PyYAML run for every variant.
const names = Object.keys(VARIANTS)
const docs = pyyaml(
  names.map((n) => {
    const file = plan(validate({ ...basicEnv(), ...VARIANTS[n] })).files.find(
      (f) => f.path === PATHS.patroniYml,
    )
    return file?.content ?? ''
  }),
) as Doc[]
const yml = Object.fromEntries(names.map((n, i) => [n, docs[i] as Doc]))
const doc = (n: string): Doc => {
  const d = yml[n]
  if (!d) throw new Error(`no variant ${n}`)
  return d
}

t.test('member tags', async (t) => {
  t.same(doc('plain').tags, { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false })
  t.same(doc('tagged').tags, {
    nofailover: true,
    noloadbalance: true,
    clonefrom: false,
    nosync: true,
    replicatefrom: 'pg2',
  })
})

t.test('failsafe_mode and permanent slots in bootstrap.dcs', async (t) => {
  t.equal(doc('plain').bootstrap.dcs.failsafe_mode, true, 'on by default')
  t.equal(doc('noFailsafe').bootstrap.dcs.failsafe_mode, false)
  t.notOk('slots' in doc('plain').bootstrap.dcs, 'no permanent slots unless asked')
  t.same(doc('slots').bootstrap.dcs.slots, {
    dr: { type: 'physical' },
    sub: { type: 'logical', database: 'app', plugin: 'wal2json' },
  })
})

t.test('the standby cluster streams through its slot', async (t) => {
  const sb = (n: string) => doc(n).bootstrap.dcs.standby_cluster as Record<string, unknown>
  t.equal(sb('standbySlot').primary_slot_name, 'dr_1')
  t.equal(sb('standbyScope').primary_slot_name, 'standby_orders_db')
  t.notOk('restore_command' in sb('standbySlot'), 'no restore_command until backups provide one')
  t.notOk('standby_cluster' in doc('plain').bootstrap.dcs)
})

t.test('PGPARAMS and MEMORY: DCS-only parameters in bootstrap.dcs, the rest local', async (t) => {
  const dcs = doc('params').bootstrap.dcs.postgresql.parameters
  const local = doc('params').postgresql.parameters
  t.equal(dcs.max_connections, '300')
  t.equal(dcs.wal_keep_size, '256MB', "cook's default stays")
  t.notOk('max_connections' in local, 'Patroni would ignore it locally')
  t.same(
    [
      local.work_mem,
      local.shared_buffers,
      local.effective_cache_size,
      local.maintenance_work_mem,
      local.log_line_prefix,
    ],
    ['16MB', '1GB', '3072MB', '256MB', '%m [%p] '],
    'PGPARAMS wins over the MEMORY default; the others derived from 4096 MB',
  )
  t.notOk('shared_buffers' in doc('plain').postgresql.parameters, "no MEMORY: PostgreSQL's own default")
  t.equal(doc('plain').bootstrap.dcs.postgresql.parameters.max_connections, '100')
})

t.test(
  'with TLS and backups: PGPARAMS next to the TLS and archive settings, each written once',
  async (t) => {
    const tls = tlsFixture(t)
    const render = (pgParams: string) =>
      plan(
        validate(
          {
            ...basicEnv(),
            ...tls.raw,
            BACKUPREPO: '/mnt/backups',
            BACKUPCIPHERPASS: 'k'.repeat(40),
            PGPARAMS: pgParams,
          },
          { allowLoopback: false, root: tls.root },
        ),
      ).files.find((f) => f.path === PATHS.patroniYml)?.content ?? ''
    const texts = [render('work_mem=16MB'), render('ssl_min_protocol_version=TLSv1.3')]
    const [plainDoc, raisedDoc] = pyyaml(texts) as Doc[]
    const local = plainDoc?.postgresql.parameters ?? {}
    t.same(
      [local.ssl, local.ssl_min_protocol_version, local.work_mem, local.archive_mode],
      ['on', 'TLSv1.2', '16MB', 'on'],
    )
    t.equal(raisedDoc?.postgresql.parameters.ssl_min_protocol_version, 'TLSv1.3', 'PGPARAMS raises the floor')
    // PyYAML keeps the last of two equal keys without a word: the text must hold the key once.
    t.equal(texts[1]?.match(/ssl_min_protocol_version/g)?.length, 1, 'ssl_min_protocol_version once')
    for (const owned of [
      'ssl=off',
      "ssl_cert_file='/tmp/x.crt'",
      'ssl_key_file=/tmp/x.key',
      'archive_timeout=5',
    ])
      t.match(
        problemsOf({ ...basicEnv(), PGPARAMS: owned }),
        [{ name: 'PGPARAMS', message: /cannot be set/ }],
        owned,
      )
  },
)

function problemsOf(raw: RawParams): unknown[] {
  try {
    validate(raw)
  } catch (e) {
    if (e instanceof ParamError) return e.problems
    throw e
  }
  return []
}
