import t from 'tap'
import { missingDeps } from '../../scripts/lib/deps.js'
import { rootSkip, tempDir } from '../helpers.js'

t.test('missing programs are named with their package and the install commands', async (t) => {
  const saved = process.env.PATH
  t.teardown(() => {
    process.env.PATH = saved
  })
  process.env.PATH = tempDir(t)
  const problems = missingDeps().join('\n')
  for (const what of ['Patroni', 'etcd', 'HAProxy', 'setpriv'])
    t.match(problems, new RegExp(`^${what} is missing`, 'm'), what)
  t.match(problems, /^install them with: scripts\/install-deps$/m)
  t.match(problems, /^ {2}or by hand: apt-get install -y postgresql-15 patroni etcd-server .*haproxy/m)
  t.match(problems, /^ {2}on FreeBSD: pkg install -y /m)
})

t.test(
  'on this machine (root, packages installed) nothing is missing',
  { skip: rootSkip(process.getuid?.() !== 0 && 'not root') },
  async (t) => {
    t.same(missingDeps(), [])
  },
)
