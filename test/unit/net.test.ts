// Address helpers: what a member address may be, networks, host names, host:port.
import t from 'tap'
import {
  authority,
  canonicalHost,
  defaultSubnet,
  isDnsLabel,
  isHostname,
  isPlainIP,
  networkOf,
  parseCidr,
  parseHostPort,
  unusableAddress,
} from '../../cook/net.js'

t.test('unusableAddress: only unicast addresses other members can reach', async (t) => {
  const usable = ['10.0.0.11', '192.0.2.7', '2001:db8::11', '::ffff:10.0.0.1', 'fd00::1']
  for (const a of usable) t.equal(unusableAddress(a, false), undefined, a)
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /loopback/],
    ['127.255.0.1', /loopback/],
    ['::1', /loopback/],
    ['::ffff:127.0.0.1', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['::ffff:0.0.0.0', /unspecified/],
    ['239.1.1.1', /multicast/],
    ['ff02::1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['169.254.0.9', /link-local/],
    ['fe80::9', /link-local/],
    ['fe80::9%em0', /zone index/],
    ['2001:db8::1%1', /zone index/],
    ['localhost', /not an IPv4 or IPv6/],
    ['', /not an IPv4 or IPv6/],
    ['010.0.0.1', /not an IPv4 or IPv6/],
  ]
  for (const [a, why] of cases) t.match(unusableAddress(a, false), why, a)
  t.equal(unusableAddress('127.0.0.5', true), undefined, 'the dev flag allows loopback')
  t.equal(unusableAddress('::1', true), undefined)
  t.match(unusableAddress('0.0.0.0', true), /unspecified/, 'but never the unspecified address')
})

t.test('isPlainIP refuses zone indexes', async (t) => {
  t.ok(isPlainIP('10.0.0.1'))
  t.ok(isPlainIP('2001:db8::1'))
  t.notOk(isPlainIP('fe80::1%em0'))
  t.notOk(isPlainIP('[2001:db8::1]'))
})

t.test('parseCidr and networkOf clear host bits', async (t) => {
  t.same(parseCidr('10.1.2.3/16'), { address: '10.1.0.0', prefix: 16 })
  t.same(parseCidr('10.1.2.3'), { address: '10.1.2.3', prefix: 32 }, 'a bare address is a host route')
  t.same(parseCidr('2001:db8:1:2:3::9/64'), { address: '2001:db8:1:2::', prefix: 64 })
  t.same(parseCidr('2001:db8::/0'), { address: '::', prefix: 0 })
  t.same(parseCidr('10.0.0.0/25'), { address: '10.0.0.0', prefix: 25 })
  t.same(parseCidr('10.0.0.200/25'), { address: '10.0.0.128', prefix: 25 })
  for (const bad of [
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/x',
    '10.0.0.0/8/8',
    'fe80::/10%em0',
    'net/24',
    '::/129',
  ])
    t.type(parseCidr(bad), 'string', bad)
  t.equal(
    networkOf('::ffff:10.1.2.3', 120),
    '::ffff:10.1.2.0',
    'RFC 5952 section 5: IPv4-mapped stays dotted',
  )
  t.equal(canonicalHost('::FFFF:0a01:0203'), '::ffff:10.1.2.3')
  t.equal(networkOf('::fffe:10.1.2.3', 128), '::fffe:a01:203', 'only ::ffff:0:0/96 is IPv4-mapped')
  t.equal(networkOf('2001:db8:0:0:1:0:0:1', 128), '2001:db8::1:0:0:1', 'RFC 5952: the first longest zero run')
})

t.test('defaultSubnet: /24 for IPv4, /64 for IPv6', async (t) => {
  t.equal(defaultSubnet('10.0.0.11'), '10.0.0.0/24')
  t.equal(defaultSubnet('2001:db8:aa:bb:1:2:3:4'), '2001:db8:aa:bb::/64')
})

t.test('host names and DNS labels', async (t) => {
  for (const h of ['consul1', 'consul-1.example.com', 'a.b.c.', 'x1.example', 'C1.EXAMPLE'])
    t.ok(isHostname(h), h)
  for (const h of [
    '',
    'under_score',
    '-lead',
    'trail-',
    'a..b',
    '10.0.0',
    '1.2.3.4.5',
    'x'.repeat(64),
    'spa ce',
  ])
    t.notOk(isHostname(h), h)
  t.ok(isDnsLabel('pg1'))
  t.notOk(isDnsLabel('pg1.example'))
})

t.test('parseHostPort and authority', async (t) => {
  t.same(parseHostPort('etcd1', 2379), { host: 'etcd1', port: 2379 })
  t.same(parseHostPort('etcd1:2380', 2379), { host: 'etcd1', port: 2380 })
  t.same(parseHostPort('10.0.0.2:1', 2379), { host: '10.0.0.2', port: 1 })
  t.same(parseHostPort('2001:db8::2', 2379), { host: '2001:db8::2', port: 2379 }, 'bare IPv6 has no port')
  t.same(parseHostPort('[2001:db8::2]:2380', 2379), { host: '2001:db8::2', port: 2380 })
  t.same(parseHostPort('[2001:db8::2]', 2379), { host: '2001:db8::2', port: 2379 })
  for (const bad of ['etcd1:0', 'etcd1:65536', 'etcd1:', 'etcd_1:2379', ':2379', '[fe80::1%em0]:2379'])
    t.type(parseHostPort(bad, 2379), 'string', bad)
  t.equal(authority('10.0.0.1', 8008), '10.0.0.1:8008')
  t.equal(authority('2001:db8::1', 8008), '[2001:db8::1]:8008')
  t.equal(authority('pg1.example', 5432), 'pg1.example:5432')
})

t.test('canonicalHost: one spelling per host', async (t) => {
  t.equal(canonicalHost('2001:DB8:0:0::1'), '2001:db8::1')
  t.equal(canonicalHost('Consul1.Example.'), 'consul1.example')
  t.equal(canonicalHost('10.0.0.1'), '10.0.0.1')
})
