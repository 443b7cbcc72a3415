// The seasoned marker's digests: what decides between "start the services only" and a reseason.
import t from 'tap'
import { SECRET_NAMES, validate, type Params } from '../../cook/params.js'
import { paramsDigest, secretsDigest } from '../../cook/seasoned.js'
import { basicEnv } from '../helpers.js'

const KEY = 'a'.repeat(64)
const params = (): Params =>
  validate({ ...basicEnv(), CONSULACL: 'on', CONSULTOKEN: '6f1b2c3d-aaaa-bbbb-cccc-0123456789ab' })

t.test('the secrets digest changes with every secret parameter', async (t) => {
  for (const name of ['KEKPASS', 'REPPASS', 'REWINDPASS', 'GOSSIPKEY', 'CONSULTOKEN', 'ADMPASS'])
    t.ok((SECRET_NAMES as readonly string[]).includes(name), `${name} is a secret`)
  const p = params()
  const base = secretsDigest(KEY, p)
  for (const name of SECRET_NAMES) {
    const changed = { ...p, [name]: `${String(p[name] ?? '')}x` }
    t.not(secretsDigest(KEY, changed), base, `a changed ${name} is a reseason`)
    t.equal(paramsDigest(changed), paramsDigest(p), `${name} is not in the open digest`)
  }
  t.not(secretsDigest(KEY, { ...p, CONSULTOKEN: undefined }), base, 'a removed CONSULTOKEN too')
  t.not(secretsDigest('b'.repeat(64), p), base, 'keyed: another jail, another digest')
  t.equal(secretsDigest(KEY, params()), base, 'the same secrets, the same digest')
})
