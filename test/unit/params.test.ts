// The parameter schema, rule by rule: each case lists the parameters that must fail, by name.
import t from 'tap'
import { ParamError } from '../../cook/errors.js'
import { PARAM_NAMES, PARAMS, redacted, SECRET_NAMES, validate, type Params } from '../../cook/params.js'
import { derivePassword } from '../../cook/secrets.js'
import { resolve } from '../../cook/sources.js'
import { basicEnv } from '../helpers.js'
import { tlsFixture } from '../tls-fixture.js'

type Over = Record<string, string | undefined>

/** Validates basic.env with some values replaced (undefined removes one); returns the failing names. */
function failing(over: Over, allowLoopback = false, root?: string): string[] {
  try {
    validate(raw(over), { allowLoopback, ...(root ? { root } : {}) })
    return []
  } catch (e) {
    if (!(e instanceof ParamError)) throw e
    return e.problems.map((p) => p.name).sort()
  }
}

function raw(over: Over): Record<string, string> {
  // basic.env says CONSULACL=off; a case that gives a Consul token means ACLs on.
  const acl = over.CONSULTOKEN !== undefined || over.CONSULAGENTTOKEN !== undefined ? { CONSULACL: 'on' } : {}
  const out: Record<string, string | undefined> = { ...basicEnv(), ...acl, ...over }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k]
  return out as Record<string, string>
}

function problems(over: Over): ParamError {
  try {
    validate(raw(over))
  } catch (e) {
    if (e instanceof ParamError) return e
    throw e
  }
  throw new Error('expected a ParamError')
}

const ok = (over: Over, allowLoopback = false): Params => validate(raw(over), { allowLoopback })

/** An S3 repository with every parameter it needs. */
const S3: Over = {
  BACKUPREPO: 's3://pg-backups/postgresql',
  BACKUPCIPHERPASS: 'k'.repeat(40),
  S3ENDPOINT: 's3.example.net',
  S3KEY: 'AKIAEXAMPLE',
  S3SECRET: 'wJalrXUtnFEMI/K7MDENG',
}

const ETCD: Over = {
  DCS: 'etcd',
  ETCDHOSTS: '10.0.0.2:2379,10.0.0.3:2379,10.0.0.4:2379',
  DATACENTER: undefined,
  CONSULSERVERS: undefined,
  GOSSIPKEY: undefined,
}

const key = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64')

const REQUIRED = [
  'DATACENTER',
  'NODENAME',
  'MYIP',
  'SERVICETAG',
  'CONSULSERVERS',
  'ADMPASS',
  'KEKPASS',
  'GOSSIPKEY',
]

t.test('basic.env is valid', async (t) => {
  t.same(failing({}), [])
})

t.test('the eight seed parameters are required: missing and empty alike', async (t) => {
  for (const name of REQUIRED) {
    t.same(failing({ [name]: undefined }), [name], `${name} missing`)
    t.same(failing({ [name]: '' }), [name], `${name} empty`)
  }
  const none = Object.fromEntries(REQUIRED.map((n) => [n, undefined]))
  t.same(failing(none), [...REQUIRED].sort(), 'every problem at once')
})

const TABLE: [string, Over, string[], boolean?][] = [
  // DATACENTER
  ['DATACENTER with upper case', { DATACENTER: 'DC1' }, ['DATACENTER']],
  ['DATACENTER of 65 characters', { DATACENTER: 'd'.repeat(65) }, ['DATACENTER']],
  ['DATACENTER of 64 characters', { DATACENTER: 'd'.repeat(64) }, []],
  ['DATACENTER with - and _', { DATACENTER: 'eu-west_1' }, []],
  ['DATACENTER with a dot', { DATACENTER: 'dc.1' }, ['DATACENTER']],
  // NODENAME
  ['NODENAME with a dot', { NODENAME: 'pg1.example' }, ['NODENAME']],
  ['NODENAME with an underscore', { NODENAME: 'pg_1' }, ['NODENAME']],
  ['NODENAME starting with -', { NODENAME: '-pg1' }, ['NODENAME']],
  ['NODENAME of 63 characters', { NODENAME: 'n'.repeat(63) }, []],
  ['NODENAME of 64 characters', { NODENAME: 'n'.repeat(64) }, ['NODENAME']],
  // MYIP
  ['MYIP loopback', { MYIP: '127.0.0.1' }, ['MYIP']],
  ['MYIP loopback 127.1.2.3', { MYIP: '127.1.2.3' }, ['MYIP']],
  ['MYIP loopback with --dev-allow-loopback', { MYIP: '127.0.0.11' }, [], true],
  ['MYIP IPv6 loopback', { MYIP: '::1' }, ['MYIP']],
  ['MYIP IPv6 loopback with --dev-allow-loopback', { MYIP: '::1' }, [], true],
  ['MYIP IPv4-mapped loopback', { MYIP: '::ffff:127.0.0.1' }, ['MYIP']],
  ['MYIP unspecified', { MYIP: '0.0.0.0' }, ['MYIP']],
  ['MYIP unspecified even with --dev-allow-loopback', { MYIP: '0.0.0.0' }, ['MYIP'], true],
  ['MYIP IPv6 unspecified', { MYIP: '::' }, ['MYIP']],
  ['MYIP multicast', { MYIP: '224.0.0.5' }, ['MYIP']],
  ['MYIP broadcast', { MYIP: '255.255.255.255' }, ['MYIP']],
  ['MYIP link-local', { MYIP: '169.254.10.1' }, ['MYIP']],
  ['MYIP IPv6 link-local', { MYIP: 'fe80::1' }, ['MYIP']],
  ['MYIP with a zone index', { MYIP: '2001:db8::11%em0' }, ['MYIP']],
  ['MYIP IPv6', { MYIP: '2001:db8::11' }, []],
  ['MYIP a host name', { MYIP: 'pg1.example.com' }, ['MYIP']],
  ['MYIP out of range', { MYIP: '10.0.0.256' }, ['MYIP']],
  ['MYIP with a space', { MYIP: ' 10.0.0.11' }, ['MYIP']],
  ['MYIP with a CIDR suffix', { MYIP: '10.0.0.11/24' }, ['MYIP']],
  // SERVICETAG
  ['SERVICETAG replica', { SERVICETAG: 'replica' }, []],
  ['SERVICETAG in capitals', { SERVICETAG: 'Master' }, ['SERVICETAG']],
  ['SERVICETAG primary (not a seed value)', { SERVICETAG: 'primary' }, ['SERVICETAG']],
  // CONSULSERVERS
  ['CONSULSERVERS commas', { CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.4' }, []],
  ['CONSULSERVERS spaces', { CONSULSERVERS: '10.0.0.2 10.0.0.3  10.0.0.4' }, []],
  ['CONSULSERVERS commas and spaces', { CONSULSERVERS: '10.0.0.2, 10.0.0.3 ,10.0.0.4' }, []],
  ['CONSULSERVERS single quotes', { CONSULSERVERS: "'10.0.0.2','10.0.0.3','10.0.0.4'" }, []],
  ['CONSULSERVERS one', { CONSULSERVERS: '"10.0.0.2"' }, []],
  ['CONSULSERVERS five', { CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6' }, []],
  ['CONSULSERVERS two', { CONSULSERVERS: '"10.0.0.2", "10.0.0.3"' }, ['CONSULSERVERS']],
  ['CONSULSERVERS four', { CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5' }, ['CONSULSERVERS']],
  [
    'CONSULSERVERS six',
    { CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7' },
    ['CONSULSERVERS'],
  ],
  ['CONSULSERVERS only separators', { CONSULSERVERS: '", ,"' }, ['CONSULSERVERS']],
  ['CONSULSERVERS duplicate', { CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.2' }, ['CONSULSERVERS']],
  [
    'CONSULSERVERS duplicate IPv6 spelt twice',
    { CONSULSERVERS: '2001:db8::2,2001:DB8:0::2,2001:db8::3' },
    ['CONSULSERVERS'],
  ],
  [
    'CONSULSERVERS duplicate names',
    { CONSULSERVERS: 'c1.example,C1.example.,c2.example' },
    ['CONSULSERVERS'],
  ],
  ['CONSULSERVERS IPv6', { CONSULSERVERS: '"2001:db8::2", "2001:db8::3", "2001:db8::4"' }, []],
  ['CONSULSERVERS IPv6 in brackets', { CONSULSERVERS: '[2001:db8::2],[2001:db8::3],[2001:db8::4]' }, []],
  ['CONSULSERVERS DNS names', { CONSULSERVERS: 'consul1.example.com,consul2.example.com,consul3' }, []],
  ['CONSULSERVERS a bad name', { CONSULSERVERS: 'consul_1,consul2,consul3' }, ['CONSULSERVERS']],
  ['CONSULSERVERS semicolons', { CONSULSERVERS: '10.0.0.2;10.0.0.3;10.0.0.4' }, ['CONSULSERVERS']],
  ['CONSULSERVERS with ports', { CONSULSERVERS: '10.0.0.2:8301,10.0.0.3,10.0.0.4' }, ['CONSULSERVERS']],
  // GOSSIPKEY
  ['GOSSIPKEY 16 bytes', { GOSSIPKEY: key(16) }, []],
  ['GOSSIPKEY 24 bytes', { GOSSIPKEY: key(24) }, []],
  ['GOSSIPKEY 31 bytes', { GOSSIPKEY: key(31) }, ['GOSSIPKEY']],
  ['GOSSIPKEY 33 bytes', { GOSSIPKEY: key(33) }, ['GOSSIPKEY']],
  ['GOSSIPKEY 64 bytes', { GOSSIPKEY: key(64) }, ['GOSSIPKEY']],
  ['GOSSIPKEY not base64', { GOSSIPKEY: 'this is not a key!' }, ['GOSSIPKEY']],
  ['GOSSIPKEY without padding', { GOSSIPKEY: key(32).replace(/=+$/, '') }, ['GOSSIPKEY']],
  ['GOSSIPKEY base64url', { GOSSIPKEY: Buffer.alloc(32, 0xfb).toString('base64url') + '=' }, ['GOSSIPKEY']],
  ['GOSSIPKEY with a space', { GOSSIPKEY: ` ${key(32)}` }, ['GOSSIPKEY']],
  // passwords
  ['ADMPASS with a line break (it only reaches a SCRAM verifier)', { ADMPASS: 'line one\nline two' }, []],
  ['ADMPASS with a NUL', { ADMPASS: 'a\0b' }, ['ADMPASS']],
  ['KEKPASS with a line break', { KEKPASS: 'a\nb' }, ['KEKPASS']],
  ['KEKPASS with a carriage return', { KEKPASS: 'a\rb' }, ['KEKPASS']],
  ['REPPASS with a line break', { REPPASS: 'x\ny' }, ['REPPASS']],
  ['REWINDPASS with a line break', { REWINDPASS: 'x\ny' }, ['REWINDPASS']],
  ['KEKPASS with a lone surrogate', { KEKPASS: 'a\ud800' }, ['KEKPASS']],
  [
    'passwords with every other character',
    { KEKPASS: ` '"\\:#&{{%\${!*@\t😀 `, ADMPASS: 'yes, yes, yes, yes' },
    [],
  ],
  // Minimum lengths (code points, as a person counts them) and the documentation's examples
  ['KEKPASS of 15 characters', { KEKPASS: 'k'.repeat(15) }, ['KEKPASS']],
  ['KEKPASS of 16 characters', { KEKPASS: 'k'.repeat(16) }, []],
  ['KEKPASS of 16 emoji (16 characters, 64 bytes)', { KEKPASS: '😀'.repeat(16) }, []],
  ['KEKPASS of 15 emoji (60 bytes)', { KEKPASS: '😀'.repeat(15) }, ['KEKPASS']],
  ['ADMPASS of 14 characters', { ADMPASS: 'a'.repeat(14) }, ['ADMPASS']],
  ['ADMPASS of 15 characters', { ADMPASS: 'a'.repeat(15) }, []],
  [
    'KEKPASS the example of another secret',
    { KEKPASS: 'cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc=' },
    ['KEKPASS'],
  ],
  ['ADMPASS an example in other case', { ADMPASS: 'akiaiosfodnn7example' }, ['ADMPASS']],
  ['a short REPPASS is refused: it can be guessed offline', { REPPASS: 'r'.repeat(15) }, ['REPPASS']],
  ['a REPPASS of 16 characters is taken', { REPPASS: 'r'.repeat(16) }, []],
  // DCS and etcd
  ['DCS etcd without the Consul parameters', ETCD, []],
  ['DCS etcd without ETCDHOSTS', { ...ETCD, ETCDHOSTS: undefined }, ['ETCDHOSTS']],
  ['DCS etcd with empty ETCDHOSTS', { ...ETCD, ETCDHOSTS: '' }, ['ETCDHOSTS']],
  [
    'DCS empty means consul',
    { DCS: '', CONSULSERVERS: undefined, GOSSIPKEY: '' },
    ['CONSULSERVERS', 'GOSSIPKEY'],
  ],
  ['DCS zookeeper', { DCS: 'zookeeper' }, ['DCS']],
  ['DCS consul without the Consul parameters', { DCS: 'consul', DATACENTER: undefined }, ['DATACENTER']],
  ['ETCDHOSTS with a bad port', { ...ETCD, ETCDHOSTS: '10.0.0.2:70000' }, ['ETCDHOSTS']],
  ['ETCDHOSTS with a bad host', { ...ETCD, ETCDHOSTS: 'etcd_1:2379' }, ['ETCDHOSTS']],
  ['ETCDHOSTS duplicate', { ...ETCD, ETCDHOSTS: '10.0.0.2,10.0.0.2:2379' }, ['ETCDHOSTS']],
  ['ETCDHOSTS with a bad Consul value still checked', { ...ETCD, GOSSIPKEY: 'nope' }, ['GOSSIPKEY']],
  [
    'DCS etcd with ETCDPROXY instead of ETCDHOSTS',
    { ...ETCD, ETCDHOSTS: undefined, ETCDPROXY: '127.0.0.1:23790' },
    [],
  ],
  ['DCS etcd with both ETCDHOSTS and ETCDPROXY', { ...ETCD, ETCDPROXY: 'http://127.0.0.1:23790' }, []],
  ['DCS etcd with neither', { ...ETCD, ETCDHOSTS: '', ETCDPROXY: '' }, ['ETCDHOSTS']],
  [
    'ETCDPROXY invalid is reported alone',
    { ...ETCD, ETCDHOSTS: undefined, ETCDPROXY: 'gw_1' },
    ['ETCDPROXY'],
  ],
  ['ETCDPROXY https', { ...ETCD, ETCDPROXY: 'https://127.0.0.1:23790' }, ['ETCDPROXY']],
  ['ETCDPROXY with a path', { ...ETCD, ETCDPROXY: 'http://127.0.0.1:23790/v3' }, ['ETCDPROXY']],
  ['ETCDPROXY with credentials', { ...ETCD, ETCDPROXY: 'http://u:p@127.0.0.1:23790' }, ['ETCDPROXY']],
  ['ETCDPROXY with a bad port', { ...ETCD, ETCDPROXY: '127.0.0.1:0' }, ['ETCDPROXY']],
  // Like ETCDHOSTS, an etcd setting is ignored with DCS=consul (whose own parameters are still required).
  ['ETCDPROXY with DCS consul', { ETCDPROXY: '127.0.0.1:23790' }, []],
  // timing
  ['TTL 29 < 10 + 2*10', { TTL: '29' }, ['TTL']],
  ['TTL 30 = 10 + 2*10', { TTL: '30' }, []],
  ['TTL 19 with Consul', { TTL: '19', LOOPWAIT: '1', RETRYTIMEOUT: '3' }, ['TTL']],
  ['TTL 20 with Consul', { TTL: '20', LOOPWAIT: '2', RETRYTIMEOUT: '4' }, []],
  ['TTL 10 with etcd', { ...ETCD, TTL: '10', LOOPWAIT: '2', RETRYTIMEOUT: '4' }, []],
  ['TTL 10 with etcd breaking the sum', { ...ETCD, TTL: '10', LOOPWAIT: '3', RETRYTIMEOUT: '4' }, ['TTL']],
  ['TTL with a unit', { TTL: '30s' }, ['TTL']],
  ['TTL negative', { TTL: '-30' }, ['TTL']],
  ['TTL below its range', { ...ETCD, TTL: '9', LOOPWAIT: '1', RETRYTIMEOUT: '3' }, ['TTL']],
  ['LOOPWAIT zero', { LOOPWAIT: '0' }, ['LOOPWAIT']],
  ['RETRYTIMEOUT 2', { RETRYTIMEOUT: '2' }, ['RETRYTIMEOUT']],
  ['LOOPWAIT too big for the default TTL', { LOOPWAIT: '11' }, ['TTL']],
  ['the timing rule and a bad password at once', { RETRYTIMEOUT: '15', KEKPASS: '' }, ['KEKPASS', 'TTL']],
  // SYNCMODE
  ['SYNCMODE on', { SYNCMODE: 'on' }, []],
  ['SYNCMODE strict', { SYNCMODE: 'strict' }, []],
  ['SYNCMODE true', { SYNCMODE: 'true' }, ['SYNCMODE']],
  ['SYNCMODE quorum', { SYNCMODE: 'quorum' }, ['SYNCMODE']],
  [
    'SYNCMODE on with standby-leader',
    { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11', SYNCMODE: 'on' },
    ['SYNCMODE'],
  ],
  // ALLOWNETS
  ['ALLOWNETS two networks', { ALLOWNETS: '10.0.0.0/24, 192.168.1.0/24' }, []],
  ['ALLOWNETS 0.0.0.0/0', { ALLOWNETS: '0.0.0.0/0' }, ['ALLOWNETS']],
  ['ALLOWNETS ::/0', { ALLOWNETS: '::/0' }, ['ALLOWNETS']],
  ['ALLOWNETS /0 among others', { ALLOWNETS: '10.0.0.0/24,0.0.0.0/0' }, ['ALLOWNETS']],
  ['ALLOWNETS /33', { ALLOWNETS: '10.0.0.0/33' }, ['ALLOWNETS']],
  ['ALLOWNETS /129', { ALLOWNETS: '2001:db8::/129' }, ['ALLOWNETS']],
  ['ALLOWNETS not a network', { ALLOWNETS: 'lan' }, ['ALLOWNETS']],
  ['ALLOWNETS empty prefix', { ALLOWNETS: '10.0.0.0/' }, ['ALLOWNETS']],
  ['ALLOWNETS a /16', { ALLOWNETS: '10.1.0.0/16' }, []],
  ['ALLOWNETS a /15', { ALLOWNETS: '10.0.0.0/15' }, ['ALLOWNETS']],
  ['ALLOWNETS a /1', { ALLOWNETS: '0.0.0.0/1' }, ['ALLOWNETS']],
  ['ALLOWNETS a /1 with ALLOWWIDENETS=on', { ALLOWNETS: '0.0.0.0/1', ALLOWWIDENETS: 'on' }, []],
  ['ALLOWNETS /0 even with ALLOWWIDENETS=on', { ALLOWNETS: '0.0.0.0/0', ALLOWWIDENETS: 'on' }, ['ALLOWNETS']],
  ['ALLOWNETS an IPv6 /48', { ALLOWNETS: '2001:db8:1::/48' }, []],
  ['ALLOWNETS an IPv6 /47', { ALLOWNETS: '2001:db8::/47' }, ['ALLOWNETS']],
  ['ALLOWNETS IPv4-mapped, every IPv4 address', { ALLOWNETS: '::ffff:0.0.0.0/96' }, ['ALLOWNETS']],
  ['ALLOWNETS IPv4-mapped /112 (a /16)', { ALLOWNETS: '::ffff:10.1.0.0/112' }, []],
  ['ALLOWWIDENETS not a boolean', { ALLOWWIDENETS: 'sure' }, ['ALLOWWIDENETS']],
  // MEMBERNETS
  ['MEMBERNETS three addresses', { MEMBERNETS: '10.0.0.11/32 10.0.0.12 10.0.0.13/32' }, []],
  ['MEMBERNETS a /8', { MEMBERNETS: '10.0.0.0/8' }, ['MEMBERNETS']],
  ['MEMBERNETS a /8 with ALLOWWIDENETS=on', { MEMBERNETS: '10.0.0.0/8', ALLOWWIDENETS: 'on' }, []],
  ['MEMBERNETS ::/0', { MEMBERNETS: '::/0' }, ['MEMBERNETS']],
  [
    'MEMBERNETS and ALLOWNETS wide',
    { MEMBERNETS: '10.0.0.0/9', ALLOWNETS: '0.0.0.0/1' },
    ['ALLOWNETS', 'MEMBERNETS'],
  ],
  // STANDBYHOST
  ['standby-leader without STANDBYHOST', { SERVICETAG: 'standby-leader' }, ['STANDBYHOST']],
  ['standby-leader with STANDBYHOST', { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11' }, []],
  [
    'standby-leader with host:port',
    { SERVICETAG: 'standby-leader', STANDBYHOST: 'pg.remote.example:6432' },
    [],
  ],
  ['standby-leader with [v6]:port', { SERVICETAG: 'standby-leader', STANDBYHOST: '[2001:db8::9]:5432' }, []],
  [
    'STANDBYHOST with a bad port',
    { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11:0' },
    ['STANDBYHOST'],
  ],
  ['STANDBYHOST with a master', { STANDBYHOST: '10.1.0.11' }, ['STANDBYHOST']],
  ['STANDBYHOST with a replica', { SERVICETAG: 'replica', STANDBYHOST: '10.1.0.11' }, []],
  // others
  ['SCOPE in capitals', { SCOPE: 'Pg' }, ['SCOPE']],
  ['SCOPE with a dash', { SCOPE: 'orders-db' }, []],
  ['CONSULTOKEN a UUID', { CONSULTOKEN: '5f4a1c2e-9b1d-4c7a-8e2f-3a6b7c8d9e0f' }, []],
  ['CONSULTOKEN with a space', { CONSULTOKEN: 'a b' }, ['CONSULTOKEN']],
  ['CONSULTOKEN with ${', { CONSULTOKEN: 'a${b}' }, ['CONSULTOKEN']],
  ['CONSULTOKEN with a quote', { CONSULTOKEN: 'a"b' }, ['CONSULTOKEN']],
  // No default token any more: DCS=consul needs one, unless ACLs are said to be off (basic.env says so).
  ['DCS=consul with ACLs on and no token', { CONSULACL: 'on' }, ['CONSULTOKEN']],
  ['DCS=consul, ACLs on by default, no token', { CONSULACL: undefined }, ['CONSULTOKEN']],
  ['DCS=etcd needs no token', { CONSULACL: undefined, DCS: 'etcd', ETCDHOSTS: '10.0.0.2' }, []],
  ['a token with CONSULACL=off', { CONSULACL: 'off', CONSULTOKEN: 'tok' }, ['CONSULTOKEN']],
  ['an agent token with CONSULACL=off', { CONSULACL: 'off', CONSULAGENTTOKEN: 'tok' }, ['CONSULAGENTTOKEN']],
  ['an agent token beside the token', { CONSULAGENTTOKEN: 'agent-1', CONSULTOKEN: 'tok' }, []],
  ['CONSULACL not on or off', { CONSULACL: 'no' }, ['CONSULACL']],
  ['MAXLAG 0', { MAXLAG: '0' }, []],
  ['MAXLAG a size with a unit', { MAXLAG: '16MB' }, ['MAXLAG']],
  ['STOPTIMEOUT 4', { STOPTIMEOUT: '4' }, ['STOPTIMEOUT']],
  ['STOPTIMEOUT 301', { STOPTIMEOUT: '301' }, ['STOPTIMEOUT']],
  // DBNAME, DBOWNER
  ['DBNAME app', { DBNAME: 'app' }, []],
  ['DBNAME with _ and digits', { DBNAME: 'orders_2024' }, []],
  ['DBNAME in capitals', { DBNAME: 'App' }, ['DBNAME']],
  ['DBNAME starting with a digit', { DBNAME: '1app' }, ['DBNAME']],
  ['DBNAME with a dash', { DBNAME: 'my-app' }, ['DBNAME']],
  ['DBNAME with a quote', { DBNAME: 'a"b' }, ['DBNAME']],
  ['DBNAME of 64 characters', { DBNAME: 'a'.repeat(64) }, ['DBNAME']],
  ['DBNAME postgres', { DBNAME: 'postgres' }, ['DBNAME']],
  ['DBNAME template1', { DBNAME: 'template1' }, ['DBNAME']],
  ['DBOWNER appowner', { DBNAME: 'app', DBOWNER: 'appowner' }, []],
  ['DBOWNER postgres', { DBNAME: 'app', DBOWNER: 'postgres' }, ['DBOWNER']],
  ['DBOWNER replicator', { DBOWNER: 'replicator' }, ['DBOWNER']],
  ['DBOWNER a pg_ role', { DBOWNER: 'pg_monitor' }, ['DBOWNER']],
  ['DBOWNER with a space', { DBOWNER: 'app owner' }, ['DBOWNER']],
  // PGPARAMS: syntax and the names Patroni or cook own (the server's verdict: pgparams.test.ts)
  ['PGPARAMS two items', { PGPARAMS: 'shared_buffers=2GB work_mem=16MB' }, []],
  ['PGPARAMS a quoted value with spaces', { PGPARAMS: "log_line_prefix='%m [%p] ' jit=off" }, []],
  ['PGPARAMS an extension parameter', { PGPARAMS: 'pg_stat_statements.max=5000' }, []],
  ['PGPARAMS spaces around =', { PGPARAMS: 'work_mem = 16MB' }, []],
  ['PGPARAMS without =', { PGPARAMS: 'work_mem' }, ['PGPARAMS']],
  ['PGPARAMS an unclosed quote', { PGPARAMS: "log_line_prefix='%m" }, ['PGPARAMS']],
  ['PGPARAMS a name twice', { PGPARAMS: 'work_mem=1MB WORK_MEM=2MB' }, ['PGPARAMS']],
  ['PGPARAMS a bad name', { PGPARAMS: 'work-mem=1MB' }, ['PGPARAMS']],
  ['PGPARAMS port', { PGPARAMS: 'port=5433' }, ['PGPARAMS']],
  ['PGPARAMS listen_addresses', { PGPARAMS: "listen_addresses='*'" }, ['PGPARAMS']],
  ['PGPARAMS data_directory', { PGPARAMS: 'data_directory=/tmp' }, ['PGPARAMS']],
  ['PGPARAMS hba_file', { PGPARAMS: 'hba_file=/tmp/hba' }, ['PGPARAMS']],
  ['PGPARAMS hot_standby', { PGPARAMS: 'hot_standby=off' }, ['PGPARAMS']],
  ['PGPARAMS wal_log_hints', { PGPARAMS: 'wal_log_hints=off' }, ['PGPARAMS']],
  ['PGPARAMS archive_command', { PGPARAMS: "archive_command='cp %p /x'" }, ['PGPARAMS']],
  ['PGPARAMS primary_conninfo', { PGPARAMS: "primary_conninfo='host=x'" }, ['PGPARAMS']],
  ['PGPARAMS synchronous_standby_names', { PGPARAMS: "synchronous_standby_names='*'" }, ['PGPARAMS']],
  ['PGPARAMS wal_level logical', { PGPARAMS: 'wal_level=logical' }, []],
  ['PGPARAMS wal_level minimal', { PGPARAMS: 'wal_level=minimal' }, ['PGPARAMS']],
  // PGPARAMS that would lower TLS or authentication (the cipher rule is checked against openssl: pgparams.test.ts)
  ['PGPARAMS ssl_min_protocol_version TLSv1', { PGPARAMS: 'ssl_min_protocol_version=TLSv1' }, ['PGPARAMS']],
  [
    'PGPARAMS ssl_min_protocol_version TLSv1.1',
    { PGPARAMS: 'ssl_min_protocol_version=TLSv1.1' },
    ['PGPARAMS'],
  ],
  ['PGPARAMS ssl_min_protocol_version empty', { PGPARAMS: "ssl_min_protocol_version=''" }, ['PGPARAMS']],
  ['PGPARAMS ssl_min_protocol_version TLSv1.3', { PGPARAMS: 'ssl_min_protocol_version=TLSv1.3' }, []],
  [
    'PGPARAMS ssl_max_protocol_version TLSv1.2',
    { PGPARAMS: 'ssl_max_protocol_version=TLSv1.2' },
    ['PGPARAMS'],
  ],
  ['PGPARAMS ssl_max_protocol_version TLSv1.3', { PGPARAMS: 'ssl_max_protocol_version=TLSv1.3' }, []],
  ['PGPARAMS ssl_ciphers eNULL', { PGPARAMS: "ssl_ciphers='eNULL:HIGH'" }, ['PGPARAMS']],
  [
    'PGPARAMS ssl_ciphers a weak suite',
    { PGPARAMS: "ssl_ciphers='ECDHE-RSA-AES256-GCM-SHA384:DES-CBC3-SHA'" },
    ['PGPARAMS'],
  ],
  [
    'PGPARAMS ssl_ciphers named strong suites',
    { PGPARAMS: "ssl_ciphers='ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384'" },
    [],
  ],
  [
    'PGPARAMS ssl_ciphers classes, weak ones excluded',
    { PGPARAMS: "ssl_ciphers='HIGH:!aNULL:!eNULL:!EXPORT:!LOW:!DES:!3DES:!RC4:!MD5'" },
    [],
  ],
  [
    'PGPARAMS ssl_ciphers @SECLEVEL=0',
    { PGPARAMS: "ssl_ciphers='ECDHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0'" },
    ['PGPARAMS'],
  ],
  ['PGPARAMS ssl', { PGPARAMS: 'ssl=off' }, ['PGPARAMS']],
  ['PGPARAMS ssl_prefer_server_ciphers off', { PGPARAMS: 'ssl_prefer_server_ciphers=off' }, ['PGPARAMS']],
  ['PGPARAMS ssl_passphrase_command', { PGPARAMS: "ssl_passphrase_command='echo x'" }, ['PGPARAMS']],
  ['PGPARAMS password_encryption md5', { PGPARAMS: 'password_encryption=md5' }, ['PGPARAMS']],
  ['PGPARAMS db_user_namespace on', { PGPARAMS: 'db_user_namespace=on' }, ['PGPARAMS']],
  ['PGPARAMS scram_iterations 1', { PGPARAMS: 'scram_iterations=1' }, ['PGPARAMS']],
  ['PGPARAMS scram_iterations 10000', { PGPARAMS: 'scram_iterations=10000' }, []],
  ['PGPARAMS max_connections 200', { PGPARAMS: 'max_connections=200' }, []],
  ['PGPARAMS max_connections below Patroni floor', { PGPARAMS: 'max_connections=20' }, ['PGPARAMS']],
  ['PGPARAMS max_wal_senders 2', { PGPARAMS: 'max_wal_senders=2' }, ['PGPARAMS']],
  ['PGPARAMS max_locks_per_transaction 31', { PGPARAMS: 'max_locks_per_transaction=31' }, ['PGPARAMS']],
  ['PGPARAMS wal_keep_size 1GB', { PGPARAMS: 'wal_keep_size=1GB' }, []],
  ['PGPARAMS wal_keep_size 8MB', { PGPARAMS: 'wal_keep_size=8MB' }, ['PGPARAMS']],
  ['PGPARAMS max_connections not a number', { PGPARAMS: 'max_connections=lots' }, ['PGPARAMS']],
  // MEMORY
  ['MEMORY 2048', { MEMORY: '2048' }, []],
  ['MEMORY 255', { MEMORY: '255' }, ['MEMORY']],
  ['MEMORY with a unit', { MEMORY: '2GB' }, ['MEMORY']],
  // member tags
  ['NOFAILOVER on a replica', { SERVICETAG: 'replica', NOFAILOVER: 'on' }, []],
  ['NOFAILOVER true on a replica', { SERVICETAG: 'replica', NOFAILOVER: 'true' }, []],
  ['NOFAILOVER on the master', { NOFAILOVER: 'on' }, ['NOFAILOVER']],
  ['NOFAILOVER off on the master', { NOFAILOVER: 'off' }, []],
  [
    'NOFAILOVER on a standby-leader',
    { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11', NOFAILOVER: 'yes' },
    ['NOFAILOVER'],
  ],
  ['NOFAILOVER maybe', { NOFAILOVER: 'maybe' }, ['NOFAILOVER']],
  ['NOSYNC on', { NOSYNC: 'on' }, []],
  ['NOSYNC 2', { NOSYNC: '2' }, ['NOSYNC']],
  ['NOLOADBALANCE 1', { NOLOADBALANCE: '1' }, []],
  ['NOLOADBALANCE y', { NOLOADBALANCE: 'y' }, ['NOLOADBALANCE']],
  ['REPLICATEFROM pg2', { REPLICATEFROM: 'pg2' }, []],
  ['REPLICATEFROM itself', { REPLICATEFROM: 'pg1' }, ['REPLICATEFROM']],
  ['REPLICATEFROM with a dot', { REPLICATEFROM: 'pg2.example' }, ['REPLICATEFROM']],
  // FAILSAFE
  ['FAILSAFE off', { FAILSAFE: 'off' }, []],
  ['FAILSAFE sometimes', { FAILSAFE: 'sometimes' }, ['FAILSAFE']],
  // STANDBYSLOT, SLOTS
  ['STANDBYSLOT named', { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11', STANDBYSLOT: 'dr_1' }, []],
  [
    'STANDBYSLOT with a dash',
    { SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11', STANDBYSLOT: 'dr-1' },
    ['STANDBYSLOT'],
  ],
  ['STANDBYSLOT in capitals', { STANDBYSLOT: 'DR' }, ['STANDBYSLOT']],
  // STANDBYSTANZA: the primary cluster's archive, for a standby cluster that shares its repository
  ...((): [string, Over, string[]][] => {
    const sb = {
      SERVICETAG: 'standby-leader',
      STANDBYHOST: '10.1.0.11',
      BACKUPREPO: '/mnt/backups',
      BACKUPCIPHERPASS: 'k'.repeat(40),
    }
    return [
      ['STANDBYSTANZA of the primary', { ...sb, SCOPE: 'pg-dr', STANDBYSTANZA: 'postgresql' }, []],
      [
        'STANDBYSTANZA on a standby replica',
        { ...sb, SERVICETAG: 'replica', SCOPE: 'pg-dr', STANDBYSTANZA: 'postgresql' },
        [],
      ],
      [
        'STANDBYSTANZA without a repository',
        {
          ...sb,
          SCOPE: 'pg-dr',
          BACKUPREPO: 'off',
          BACKUPCIPHERPASS: undefined,
          STANDBYSTANZA: 'postgresql',
        },
        ['STANDBYSTANZA'],
      ],
      [
        'STANDBYSTANZA without STANDBYHOST',
        {
          BACKUPREPO: '/mnt/backups',
          BACKUPCIPHERPASS: 'k'.repeat(40),
          SCOPE: 'pg-dr',
          STANDBYSTANZA: 'postgresql',
        },
        ['STANDBYSTANZA'],
      ],
      ['STANDBYSTANZA its own SCOPE', { ...sb, STANDBYSTANZA: 'postgresql' }, ['STANDBYSTANZA']],
      [
        'STANDBYSTANZA not a DNS label',
        { ...sb, SCOPE: 'pg-dr', STANDBYSTANZA: 'Post_gres' },
        ['STANDBYSTANZA'],
      ],
    ]
  })(),
  ['SLOTS physical', { SLOTS: 'standby_dr, backup_1:physical' }, []],
  ['SLOTS logical with wal_level logical', { SLOTS: 'sub:logical:app', PGPARAMS: 'wal_level=logical' }, []],
  ['SLOTS logical with a plugin', { SLOTS: 'sub:logical:app:wal2json', PGPARAMS: 'wal_level=logical' }, []],
  ['SLOTS logical without wal_level logical', { SLOTS: 'sub:logical:app' }, ['SLOTS']],
  ['SLOTS logical without a database', { SLOTS: 'sub:logical', PGPARAMS: 'wal_level=logical' }, ['SLOTS']],
  ['SLOTS physical with a database', { SLOTS: 'sub:physical:app' }, ['SLOTS']],
  ['SLOTS an unknown type', { SLOTS: 'sub:binary' }, ['SLOTS']],
  ['SLOTS a name twice', { SLOTS: 'a a' }, ['SLOTS']],
  ['SLOTS a bad name', { SLOTS: 'Standby-1' }, ['SLOTS']],
]

t.test('every rule, by the names that fail', async (t) => {
  for (const [title, over, names, loopback] of TABLE) t.same(failing(over, loopback), names, title)
})

t.test('resolved values', async (t) => {
  const p = ok({})
  t.same(p.CONSULSERVERS, ['10.0.0.2', '10.0.0.3', '10.0.0.4'], 'the seed form, quotes dropped')
  t.same(ok({ CONSULSERVERS: '[2001:db8::2] 2001:db8::3 2001:db8::4' }).CONSULSERVERS, [
    '2001:db8::2',
    '2001:db8::3',
    '2001:db8::4',
  ])
  t.same(
    [p.SCOPE, p.DCS, p.TTL, p.LOOPWAIT, p.RETRYTIMEOUT, p.SYNCMODE, p.MAXLAG, p.STOPTIMEOUT],
    ['postgresql', 'consul', 30, 10, 10, 'off', 1048576, 25],
    'defaults',
  )
  t.same(p.ALLOWNETS, ['10.0.0.0/24'], 'ALLOWNETS defaults to the /24 of MYIP')
  t.same(ok({ MYIP: '2001:db8:1:2:aa::11' }).ALLOWNETS, ['2001:db8:1:2::/64'], 'and to the /64 for IPv6')
  t.same(ok({ ALLOWNETS: '10.1.2.3/16 2001:db8::1/48' }).ALLOWNETS, ['10.1.0.0/16', '2001:db8::/48'])
  t.same(p.MEMBERNETS, ['10.0.0.0/24'], 'MEMBERNETS defaults to the /24 of MYIP')
  t.same(ok({ MEMBERNETS: '10.0.0.11 10.0.0.12/32' }).MEMBERNETS, ['10.0.0.11/32', '10.0.0.12/32'])
  t.equal(p.ALLOWWIDENETS, false)
  t.same(ok(ETCD).ETCDHOSTS, ['10.0.0.2:2379', '10.0.0.3:2379', '10.0.0.4:2379'])
  t.equal(ok(ETCD).ETCDPROXY, undefined, 'no proxy unless given')
  const proxied = (v: string) => ok({ ...ETCD, ETCDHOSTS: undefined, ETCDPROXY: v })
  t.same(
    [
      '127.0.0.1:23790',
      'http://127.0.0.1:23790/',
      'HTTP://gw.local',
      '[::1]:23790',
      'http://2001:db8::7',
    ].map((v) => proxied(v).ETCDPROXY),
    ['127.0.0.1:23790', '127.0.0.1:23790', 'gw.local:2379', '[::1]:23790', '[2001:db8::7]:2379'],
    'ETCDPROXY is kept as host:port, the scheme dropped, port 2379 by default',
  )
  t.same(proxied('127.0.0.1:23790').ETCDHOSTS, [], 'ETCDHOSTS may be left out with a proxy')
  t.same(ok({ ...ETCD, ETCDHOSTS: 'etcd1 2001:db8::5 [2001:db8::6]:2380' }).ETCDHOSTS, [
    'etcd1:2379',
    '[2001:db8::5]:2379',
    '[2001:db8::6]:2380',
  ])
  t.same(ok(ETCD).CONSULSERVERS, [], 'no Consul servers with etcd')
  t.equal(ok({ SYNCMODE: 'strict' }).SYNCMODE, 'strict')
  t.same(
    [p.DBNAME, p.DBOWNER, p.PGPARAMS, p.MEMORY, p.NOFAILOVER, p.NOSYNC, p.NOLOADBALANCE, p.REPLICATEFROM],
    [undefined, 'admin', {}, undefined, false, false, false, undefined],
    'operator defaults: no database, admin owns, no parameters, no memory, no tags',
  )
  t.same([p.FAILSAFE, p.STANDBYSLOT, p.SLOTS], [true, undefined, []], 'failsafe on, no slots')
  t.same(ok({ PGPARAMS: "Work_Mem = 16MB  log_line_prefix='it''s %m '" }).PGPARAMS, {
    work_mem: '16MB',
    log_line_prefix: "it's %m ",
  })
  const nomad = resolve({ env: { ...basicEnv(), NOMAD_MEMORY_LIMIT: '4096' } })
  t.equal(validate(nomad.raw).MEMORY, 4096, "Nomad's NOMAD_MEMORY_LIMIT is MEMORY")
  t.same(
    resolve({ env: { MEMORY: '1024', NOMAD_MEMORY_LIMIT: '4096' } }).problems.map((p) => p.name),
    ['MEMORY'],
    'both at once is a problem, not a silent choice',
  )
  t.equal(
    ok({ SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11', SCOPE: 'orders-db' }).STANDBYSLOT,
    'standby_orders_db',
    'a standby-leader streams through standby_<SCOPE> unless told otherwise',
  )
  t.same(ok({ SLOTS: 'dr sub:logical:app', PGPARAMS: 'wal_level=logical' }).SLOTS, [
    { name: 'dr', type: 'physical' },
    { name: 'sub', type: 'logical', database: 'app', plugin: 'pgoutput' },
  ])
  t.same(
    [ok({ NOFAILOVER: 'ON', SERVICETAG: 'replica' }).NOFAILOVER, ok({ FAILSAFE: 'No' }).FAILSAFE],
    [true, false],
  )
})

t.test('REPPASS and REWINDPASS are derived from KEKPASS and SCOPE, the same on every member', async (t) => {
  const a = ok({})
  const b = ok({ NODENAME: 'pg2', MYIP: '10.0.0.12', SERVICETAG: 'replica' })
  t.equal(a.REPPASS, b.REPPASS, 'another member computes the same REPPASS')
  t.equal(a.REWINDPASS, b.REWINDPASS)
  t.equal(a.REPPASS, derivePassword('kek-Secret-2-basic-env', 'postgresql', 'replication'))
  t.equal(a.REWINDPASS, derivePassword('kek-Secret-2-basic-env', 'postgresql', 'rewind'))
  const distinct = new Set([a.KEKPASS, a.REPPASS, a.REWINDPASS])
  t.equal(distinct.size, 3, 'three different passwords')
  t.match(a.REPPASS, /^[A-Za-z0-9_-]{32}$/, 'pgpass-safe characters, 24 bytes of key')
  t.not(ok({ SCOPE: 'other' }).REPPASS, a.REPPASS, 'another cluster gets another password')
  t.not(ok({ KEKPASS: 'kek-Secret-3-basic-env' }).REPPASS, a.REPPASS, 'another KEKPASS, another password')
  t.equal(ok({ REPPASS: 'given-sixteen-ch' }).REPPASS, 'given-sixteen-ch', 'a given REPPASS wins')
  t.equal(ok({ REWINDPASS: 'given-sixteen-ch' }).REWINDPASS, 'given-sixteen-ch')
  t.equal(ok({ REPPASS: '' }).REPPASS, a.REPPASS, 'empty means derived')
})

t.test('messages: start with the name, say what is expected, never show a secret', async (t) => {
  const e = problems({ CONSULSERVERS: '10.0.0.2,10.0.0.3', NODENAME: 'pg_1' })
  const lines = e.lines()
  t.equal(lines.length, 2)
  t.match(
    lines.find((l) => l.startsWith('CONSULSERVERS: ')),
    /quorum.*1, 3 or 5/,
  )
  t.match(
    lines.find((l) => l.startsWith('NODENAME: ')),
    /"pg_1" is not a DNS label; want a DNS label/,
  )
  t.match(
    problems({ CONSULSERVERS: '10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5' }).lines()[0],
    /4 tolerates no more/,
  )

  const secrets: Over = {
    KEKPASS: 'kek\nSECRET1',
    REPPASS: 'rep\rSECRET2',
    REWINDPASS: 'rew\0SECRET3',
    ADMPASS: 'adm\0SECRET4',
    GOSSIPKEY: 'SECRET5-not-base64',
    CONSULTOKEN: 'SECRET6 "quoted"',
  }
  const err = problems(secrets)
  t.same(err.problems.map((p) => p.name).sort(), Object.keys(secrets).sort())
  const text = err.lines().join('\n')
  for (const n of [1, 2, 3, 4, 5, 6]) t.notMatch(text, `SECRET${n}`, `secret ${n} not echoed`)
  for (const line of err.lines()) t.match(line, /; want /, 'says what is expected')
})

t.test('a plain value is shown quoted on one line, shortened when long', async (t) => {
  t.same(problems({ NODENAME: 'pg\n1\t"x"' }).lines(), [
    'NODENAME: "pg\\n1\\t\\"x\\"" is not a DNS label; want a DNS label: letters, digits and "-", at most 63 characters, no dots',
  ])
  const long = problems({ DATACENTER: 'X'.repeat(500) }).lines()[0] ?? ''
  t.ok(long.length < 200, 'a 500-character value does not flood the terminal')
  t.match(long, /^DATACENTER: "X{60}\.\.\." has other characters/)
})

t.test('the schema: every parameter documented, secrets marked', async (t) => {
  t.same(SECRET_NAMES.sort(), [
    'ADMPASS',
    'BACKUPCIPHERPASS',
    'CONSULAGENTTOKEN',
    'CONSULTOKEN',
    'GOSSIPKEY',
    'KEKPASS',
    'METRICSPASS',
    'MONPASS',
    'OLDKEKPASS',
    'REPPASS',
    'RESTPASS',
    'REWINDPASS',
    'S3KEY',
    'S3SECRET',
    'TLSKEY',
  ])
  // The certificate examples are paths in the jail: a root where they hold the typical member's files.
  const tls = tlsFixture(t)
  for (const name of PARAM_NAMES) {
    const spec = PARAMS[name]
    t.ok(spec.doc.length > 10 && !spec.doc.includes('\n'), `${name} has one line of doc`)
    t.ok(spec.want.length > 3, `${name} says what it wants`)
    const contexts: Partial<Record<string, Over>> = {
      STANDBYHOST: { SERVICETAG: 'standby-leader' },
      CONSULACL: { CONSULTOKEN: PARAMS.CONSULTOKEN.example },
      CONSULAGENTTOKEN: { CONSULTOKEN: PARAMS.CONSULTOKEN.example },
      ETCDPROXY: ETCD,
      ...Object.fromEntries(
        ['BACKUPREPO', 'S3ENDPOINT', 'S3KEY', 'S3SECRET', 'S3CAFILE'].map((n) => [n, S3]),
      ),
      RESTORETIME: { BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'k'.repeat(40) },
      BACKUPCIPHERPASS: { BACKUPREPO: '/mnt/backups' },
      RESTORESTANZA: {
        BACKUPREPO: '/mnt/backups',
        BACKUPCIPHERPASS: 'k'.repeat(40),
        RESTORETIME: '2026-11-30 23:10:05+00',
      },
      STANDBYSTANZA: {
        SERVICETAG: 'standby-leader',
        STANDBYHOST: '10.1.0.11',
        BACKUPREPO: '/mnt/backups',
        BACKUPCIPHERPASS: 'k'.repeat(40),
        SCOPE: 'pg-dr',
      },
      TLS: tls.raw,
      TLSCA: tls.raw,
      TLSCERT: tls.raw,
      TLSKEY: tls.raw,
    }
    const context = contexts[name] ?? {}
    // Every password's example is refused on purpose: a copied example is no secret.
    const refused = spec.secret === true && name.endsWith('PASS') && name !== 'OLDKEKPASS'
    t.same(
      failing({ ...context, [name]: spec.example }, false, tls.root),
      refused ? [name] : [],
      `${name}: its example is ${refused ? 'refused' : 'valid'}`,
    )
  }
  t.equal(PARAMS.MYIP.aliases?.[0], 'IP')
})

t.test('redacted shows every secret as <redacted>', async (t) => {
  const tls = tlsFixture(t)
  const shown = redacted(
    validate(
      raw({
        CONSULTOKEN: 'tok-123',
        CONSULAGENTTOKEN: 'agent-tok',
        OLDKEKPASS: 'old-kek',
        ...S3,
        ...tls.raw,
      }),
      {
        allowLoopback: false,
        root: tls.root,
      },
    ),
  )
  for (const name of SECRET_NAMES) t.equal(shown[name], '<redacted>', name)
  t.match(shown.TLSCERT, /^sha256:[0-9a-f]{16}$/, 'a certificate is shown by its fingerprint, not its PEM')
  t.equal(shown.CONSULSERVERS, '10.0.0.2,10.0.0.3,10.0.0.4')
  t.equal(shown.STANDBYHOST, '')
})
