// The jail's own addresses, checked before anything is written.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { jailAddresses, preflight } from '../../cook/preflight.js'
import { main } from '../../cook/cli.js'
import { basicEnv, tempDir } from '../helpers.js'

const names = (problems: { name: string }[]) => problems.map((p) => p.name)

t.test('MYIP must be an address of the jail', async (t) => {
  // An alias jail with MYIP: only that address, no loopback.
  t.same(preflight({ MYIP: '10.0.0.11', DCS: 'etcd' }, ['10.0.0.11']), [])
  // A bridge jail that got another address (pot create -N public-bridge -i auto), with its lo0.
  const bridge = preflight({ MYIP: '10.0.0.11', DCS: 'etcd' }, ['10.192.0.5', '127.0.0.1'])
  t.same(names(bridge), ['MYIP'])
  t.match(
    bridge[0]?.message,
    /10\.0\.0\.11 is not an address of this jail \(it has 10\.192\.0\.5, 127\.0\.0\.1\)/,
  )
  t.match(bridge[0]?.message, /-N alias -i "<interface>\|10\.0\.0\.11"/)
  // IPv6 in any spelling.
  t.same(preflight({ MYIP: 'fd00::0011', DCS: 'etcd' }, ['fd00::11', '::1']), [])
})

t.test(
  'DCS=consul needs 127.0.0.1 in the jail: an alias jail would open the agent to the network',
  async (t) => {
    const alias = preflight({ MYIP: '10.0.0.11', DCS: 'consul' }, ['10.0.0.11'])
    t.same(names(alias), ['DCS'])
    t.match(alias[0]?.message, /an alias jail has no loopback of its own/)
    t.same(preflight({ MYIP: '10.0.0.11', DCS: 'consul' }, ['10.0.0.11', '127.0.0.1']), [])
    t.same(
      names(preflight({ MYIP: '10.9.9.9', DCS: 'consul' }, ['10.0.0.11'])),
      ['MYIP', 'DCS'],
      'all at once',
    )
  },
)

t.test('the development cluster: a loopback MYIP passes once this machine has 127/8', async (t) => {
  t.same(preflight({ MYIP: '127.0.0.11', DCS: 'etcd' }, ['127.0.0.1'], { allowLoopback: true }), [])
  t.same(names(preflight({ MYIP: '127.0.0.11', DCS: 'etcd' }, ['127.0.0.1'])), ['MYIP'])
  t.ok(jailAddresses().includes('127.0.0.1'), "this machine's own addresses are read")
})

t.test('cook refuses a MYIP the jail does not have with exit 78, and writes nothing', async (t) => {
  const root = join(tempDir(t), 'jail')
  const env = { ...basicEnv(), MYIP: '198.51.100.77', DCS: 'etcd', ETCDHOSTS: '198.51.100.10' }
  const err: string[] = []
  const code = await main(
    ['--environment-sh', '/nonexistent/environment.sh', '--root', root, '--owners', 'record'],
    {
      out: () => undefined,
      err: (l) => err.push(l),
      env,
    },
  )
  t.equal(code, 78, err.join('\n'))
  t.match(err.join('\n'), /^MYIP: 198\.51\.100\.77 is not an address of this jail/m)
  const written = existsSync(root) ? readdirSync(root, { recursive: true }).map(String) : []
  t.same(
    written.filter((f) => !/^var(\/log.*)?$/.test(f)),
    [],
    'nothing but the log (which says why)',
  )
})
