// The table is the one source: the types of `Params` follow its entries, and the rules and computed
// defaults on its entries run in the table's order, each once the parameters it needs are valid.
import t from 'tap'
import type { Repo } from '../../cook/backup.js'
import { ParamError } from '../../cook/errors.js'
import { PARAM_NAMES, PARAMS, validate, type Params } from '../../cook/params.js'
import { basicEnv } from '../helpers.js'

type Eq<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false

// Checked by `npm run typecheck`: an entry that gains or loses `required: true` or a default, or whose
// check gives another type, changes its type in Params, and one of these lines stops compiling.
const types: true[] = [
  true satisfies Eq<Params['NODENAME'], string>, // required: true
  true satisfies Eq<Params['TTL'], number>, // a constant default
  true satisfies Eq<Params['REPPASS'], string>, // a default computed from KEKPASS and SCOPE
  true satisfies Eq<Params['STANDBYSLOT'], string | undefined>, // a computed default that may give none
  true satisfies Eq<Params['DATACENTER'], string | undefined>, // required only with DCS=consul
  true satisfies Eq<Params['MEMORY'], number | undefined>, // optional, no default
  true satisfies Eq<Params['SERVICETAG'], 'master' | 'replica' | 'standby-leader'>, // oneOf's values
  true satisfies Eq<Params['BACKUPREPO'], Repo>, // checkRepo's value
]

/** The names of the problems validate() reports, in its order. */
function problemNames(over: Record<string, string>): string[] {
  try {
    validate({ ...basicEnv(), ...over })
    return []
  } catch (e) {
    if (!(e instanceof ParamError)) throw e
    return e.problems.map((p) => p.name)
  }
}

t.test('the values validate() gives have the types Params says', async (t) => {
  t.equal(types.length, 8)
  const p = validate(basicEnv())
  t.equal(typeof p.NODENAME, 'string')
  t.equal(p.TTL, 30)
  t.equal(typeof p.REPPASS, 'string')
  t.equal(p.STANDBYSLOT, undefined, 'a master has no standby slot')
  t.equal(p.MEMORY, undefined)
  t.same(p.BACKUPREPO, { type: 'off' })
})

t.test("problems come in the table's order: every value first, then each entry's rules", async (t) => {
  t.same(
    problemNames({
      NOFAILOVER: 'on', // a rule: SERVICETAG=master must be able to lead
      RESTORETIME: '2026-11-30 23:10:05+00', // a rule: BACKUPREPO=off
      S3KEY: 'AKIAEXAMPLE', // a rule: no S3 repository
      TTL: 'soon', // a value
    }),
    ['TTL', 'S3KEY', 'RESTORETIME', 'NOFAILOVER'],
  )
})

t.test('a rule waits until every parameter it needs is valid', async (t) => {
  const etcd = { DCS: 'etcd', ETCDHOSTS: '10.0.0.2:2379', DATACENTER: '', CONSULSERVERS: '', GOSSIPKEY: '' }
  const tight = { ...etcd, TTL: '10', LOOPWAIT: '9' }
  t.same(problemNames({ ...tight, RETRYTIMEOUT: 'x' }), ['RETRYTIMEOUT'], 'no TTL rule without RETRYTIMEOUT')
  t.same(problemNames({ ...tight, RETRYTIMEOUT: '3' }), ['TTL'], '9 + 2 × 3 > 10 once all three are valid')
})

t.test('a computed default waits until every parameter it needs is valid', async (t) => {
  // ALLOWNETS's default is MYIP's subnet: with MYIP invalid it is not computed, only MYIP is reported.
  t.same(problemNames({ MYIP: 'localhost' }), ['MYIP'])
  t.same(validate(basicEnv()).ALLOWNETS, ['10.0.0.0/24'])
})

t.test("each rule's and computed default's needs are other parameters of the table", async (t) => {
  for (const name of PARAM_NAMES) {
    const { fallback, rules = [] } = PARAMS[name]
    for (const needs of [fallback?.needs ?? [], ...rules.map((r) => r.needs)])
      t.ok(
        needs.every((n) => PARAM_NAMES.includes(n)),
        `${name}: needs ${needs.join(', ')}`,
      )
    t.notOk(fallback?.needs?.includes(name), `${name}: its default does not need itself`)
  }
})
