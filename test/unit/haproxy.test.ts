import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { haproxyConfig, parseMembers } from '../../cook/haproxy.js'
import { cook, tempDir } from '../helpers.js'
import { makeCa } from '../../scripts/lib/certs.js'

function haproxyCheck(file: string): string {
  // haproxy -c exits 0 on warnings too: the output must not carry any.
  return execFileSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

t.test('cook haproxy writes a config that haproxy -c accepts without warnings', async (t) => {
  const dir = tempDir(t)
  const out = join(dir, 'haproxy.cfg')
  const r = await cook([
    'haproxy',
    '--members',
    'pg1=10.0.0.11:8008:5432, pg2=10.0.0.12:8018:5442,[fd00::13]:8008:5432',
    '--bind',
    '127.0.0.1',
    '--plain-checks',
    '--out',
    out,
  ])
  t.equal(r.code, 0, r.err)
  const cfg = readFileSync(out, 'utf8')
  t.equal(statSync(out).mode & 0o777, 0o644)
  t.notMatch(haproxyCheck(out), /WARNING|ALERT/)
  t.match(cfg, /^listen primary\n\s+bind 127\.0\.0\.1:5000\n\s+option httpchk OPTIONS \/primary\n/m)
  t.match(cfg, /^listen replicas\n\s+bind 127\.0\.0\.1:5001\n/m)
  t.match(cfg, /^\s+server pg2 10\.0\.0\.12:5442 check port 8018$/m)
  t.match(cfg, /^\s+server member3 \[fd00::13\]:5432 check port 8008$/m)
  t.equal(cfg.match(/http-check expect status 200/g)?.length, 2)
  t.equal(cfg.match(/on-marked-down shutdown-sessions/g)?.length, 2)
})

t.test('without --bind it listens on every address; without --out it prints', async (t) => {
  const r = await cook([
    'haproxy',
    '--members',
    '10.0.0.11 10.0.0.12',
    '--primary-port',
    '6432',
    '--plain-checks',
  ])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^\s+bind :6432$/m)
  t.match(r.out, /^\s+bind :5001$/m)
  t.match(r.out, /^\s+server member1 10\.0\.0\.11:5432 check port 8008$/m)
})

t.test('bad members are all reported at once and nothing is written', async (t) => {
  const dir = tempDir(t)
  const out = join(dir, 'haproxy.cfg')
  const r = await cook([
    'haproxy',
    '--members',
    'a=10.0.0.1:5432,b_c=10.0.0.2,10.0.0.3:99999:1,a=10.0.0.4,a=10.0.0.5,fd00::1:8008:1,x=h;rm',
    '--replica-port',
    '5000',
    '--out',
    out,
  ])
  t.equal(r.code, 64)
  t.match(r.err, /"10\.0\.0\.1:5432" gives one port/)
  t.match(r.err, /"b_c" is not a valid member name/)
  t.match(r.err, /"99999" is not a port/)
  t.match(r.err, /the name a is used twice/)
  t.match(r.err, /"h;rm" is neither an IP address nor a host name/)
  t.match(r.err, /--replica-port: must differ/)
  t.throws(() => statSync(out))
})

t.test('an IPv6 member with ports needs brackets; the rendered address keeps them', async (t) => {
  t.same(parseMembers('[fd00::1]:8009:5433').members, [
    { name: 'member1', host: 'fd00::1', restPort: 8009, pgPort: 5433 },
  ])
  const cfg = haproxyConfig({
    members: parseMembers('fd00::1').members,
    bind: '::1',
    primaryPort: 5000,
    replicaPort: 5001,
    caFile: null,
  })
  t.match(cfg, /bind \[::1\]:5000/)
  t.match(cfg, /server member1 \[fd00::1\]:5432 check port 8008/)
  t.same(parseMembers('').problems.length, 1)
})

t.test('with --ca-file the checks speak HTTPS and verify the member against the CA', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(join(dir, 'ca'))
  const out = join(dir, 'haproxy.cfg')
  const r = await cook(['haproxy', '--members', 'pg1=10.0.0.11', '--ca-file', ca.cert, '--out', out])
  t.equal(r.code, 0, r.err)
  t.notMatch(haproxyCheck(out), /WARNING|ALERT/, 'haproxy -c loads the CA file')
  t.match(
    readFileSync(out, 'utf8'),
    new RegExp(
      `^\\s+server pg1 10\\.0\\.0\\.11:5432 check port 8008 check-ssl verify required ca-file ${ca.cert}$`,
      'm',
    ),
  )
})

t.test(
  'neither --ca-file nor --plain-checks, or a file name HAProxy cannot take: a usage error',
  async (t) => {
    const neither = await cook(['haproxy', '--members', '10.0.0.11'])
    t.equal(neither.code, 64)
    t.match(neither.err, /--ca-file: is missing; want the cluster's CA/)
    const both = await cook(['haproxy', '--members', '10.0.0.11', '--ca-file', '/x/ca.crt', '--plain-checks'])
    t.match(both.err, /exclude each other/)
    const odd = await cook(['haproxy', '--members', '10.0.0.11', '--ca-file', '/x/my ca.crt'])
    t.match(odd.err, /has characters HAProxy cannot take unquoted/)
  },
)
