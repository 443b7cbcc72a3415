import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { haproxyConfig, parseMembers } from '../../cook/haproxy.js'
import { cook, tempDir } from '../helpers.js'
import { issue, makeCa } from '../../scripts/lib/certs.js'

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

t.test(
  'without --bind: a usage error, nothing written; several addresses; without --out it prints',
  async (t) => {
    const dir = tempDir(t)
    const out = join(dir, 'haproxy.cfg')
    const none = await cook(['haproxy', '--members', '10.0.0.11 10.0.0.12', '--plain-checks', '--out', out])
    t.equal(none.code, 64)
    t.match(none.err, /--bind: is missing; want the address\(es\) HAProxy listens on/)
    t.throws(() => statSync(out), 'nothing written')
    const r = await cook([
      'haproxy',
      '--members',
      '10.0.0.11 10.0.0.12',
      '--bind',
      '10.0.0.5,127.0.0.1',
      '--primary-port',
      '6432',
      '--plain-checks',
    ])
    t.equal(r.code, 0, r.err)
    t.match(r.out, /^\s+bind 10\.0\.0\.5:6432,127\.0\.0\.1:6432$/m)
    t.match(r.out, /^\s+bind 10\.0\.0\.5:5001,127\.0\.0\.1:5001$/m)
    t.notMatch(r.out, /^\s+bind :/m, 'never every address unless told')
    t.match(r.out, /^\s+server member1 10\.0\.0\.11:5432 check port 8008$/m)
    const every = await cook(['haproxy', '--members', '10.0.0.11', '--bind', '0.0.0.0', '--plain-checks'])
    t.match(every.out, /^\s+bind 0\.0\.0\.0:5000$/m, 'every address when said explicitly')
  },
)

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
    { name: 'member1', host: 'fd00::1', restPort: 8009, pgPort: 5433, verifyName: null },
  ])
  const cfg = haproxyConfig({
    members: parseMembers('fd00::1').members,
    bind: ['::1'],
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
  const members = 'pg1=10.0.0.11,pg2.db.example=10.0.0.12,localhost:8008:5432'
  const r = await cook([
    'haproxy',
    '--members',
    members,
    '--bind',
    '127.0.0.1',
    '--ca-file',
    ca.cert,
    '--out',
    out,
  ])
  t.equal(r.code, 0, r.err)
  t.notMatch(haproxyCheck(out), /WARNING|ALERT/, 'haproxy -c loads the CA file and takes verifyhost')
  const cfg = readFileSync(out, 'utf8')
  const check = `check port 8008 check-ssl verify required ca-file ${ca.cert} verifyhost`
  t.match(cfg, new RegExp(`^\\s+server pg1 10\\.0\\.0\\.11:5432 ${check} pg1$`, 'm'))
  t.match(
    cfg,
    new RegExp(`^\\s+server pg2\\.db\\.example 10\\.0\\.0\\.12:5432 ${check} pg2\\.db\\.example$`, 'm'),
  )
  t.match(cfg, new RegExp(`^\\s+server member3 localhost:5432 ${check} localhost$`, 'm'))
  const unnamed = await cook([
    'haproxy',
    '--members',
    '10.0.0.11',
    '--bind',
    '127.0.0.1',
    '--ca-file',
    ca.cert,
  ])
  t.equal(unnamed.code, 64, 'an address without a name cannot be verified')
  t.match(unnamed.err, /--members: 10\.0\.0\.11 has no name: with --ca-file write NAME=10\.0\.0\.11/)
})

t.test(
  'neither --ca-file nor --plain-checks, or a file name HAProxy cannot take: a usage error',
  async (t) => {
    const neither = await cook(['haproxy', '--members', '10.0.0.11', '--bind', '127.0.0.1'])
    t.equal(neither.code, 64)
    t.match(neither.err, /--ca-file: is missing; want the cluster's CA/)
    const both = await cook(['haproxy', '--members', '10.0.0.11', '--ca-file', '/x/ca.crt', '--plain-checks'])
    t.match(both.err, /exclude each other/)
    const odd = await cook(['haproxy', '--members', '10.0.0.11', '--ca-file', '/x/my ca.crt'])
    t.match(odd.err, /has characters HAProxy cannot take unquoted/)
  },
)

/** A free TCP port on `host` (the kernel's choice, released at once). */
async function freePort(host: string): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, host, resolve))
  const { port } = s.address() as AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** What a client gets through HAProxy's frontend: the backend's greeting, or '' when HAProxy has no server. */
function greeting(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const c = connect({ host, port })
    c.setTimeout(2000, () => c.destroy())
    c.on('data', (d) => {
      got += d.toString()
      c.end()
    })
    c.on('close', () => resolve(got))
    c.on('error', () => resolve(got))
  })
}

t.test(
  "live: HAProxy's HTTPS check refuses a certificate of the same CA that names another member",
  async (t) => {
    // The member: Patroni's REST API (HTTPS, answers the checks) and a stand-in for PostgreSQL that greets.
    const dir = tempDir(t)
    const ca = makeCa(join(dir, 'ca'))
    const net = `127.83.${1 + (process.pid % 250)}`
    const memberIp = `${net}.11`
    const bind = `${net}.10`
    const own = issue(ca, 'pg1', { ips: [memberIp], dns: ['pg1'] })
    // etcd's certificate, say: the same CA, the same address, another name.
    const other = issue(ca, 'etcd', { ips: [memberIp], dns: ['etcd'] })
    const pgServer = createServer((s) => s.end('postgres of pg1\n'))
    await new Promise<void>((resolve) => pgServer.listen(0, memberIp, resolve))
    t.teardown(() => pgServer.close())
    const pgPort = (pgServer.address() as AddressInfo).port

    for (const [cert, expected] of [
      [own, 'postgres of pg1\n'],
      [other, ''],
    ] as const) {
      const rest = createHttpsServer(
        { cert: readFileSync(cert.cert), key: readFileSync(cert.key) },
        (_req, res) => res.writeHead(200).end(),
      )
      await new Promise<void>((resolve) => rest.listen(0, memberIp, resolve))
      const restPort = (rest.address() as AddressInfo).port
      const primaryPort = await freePort(bind)
      const cfg = join(dir, `haproxy-${restPort}.cfg`)
      writeFileSync(
        cfg,
        haproxyConfig({
          members: parseMembers(`pg1=${memberIp}:${restPort}:${pgPort}`).members,
          bind: [bind],
          primaryPort,
          replicaPort: await freePort(bind),
          caFile: ca.cert,
        }),
      )
      t.notMatch(haproxyCheck(cfg), /WARNING|ALERT/)
      const proxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
      let log = ''
      proxy.stderr.on('data', (d: Buffer) => (log += d.toString()))
      try {
        // Servers start up; two failed probes (fastinter 250ms) take one down. Wait well past that.
        await new Promise((resolve) => setTimeout(resolve, 3000))
        const got = await greeting(bind, primaryPort)
        t.equal(
          got,
          expected,
          cert === own
            ? 'the certificate that names pg1: the check passes and :5000 routes to it'
            : "etcd's certificate from the same CA: the check fails and :5000 routes nowhere",
        )
        if (cert === other)
          t.match(
            log,
            /pg1 is DOWN/,
            `HAProxy says why: ${log.split('\n').find((l) => /DOWN/.test(l)) ?? log}`,
          )
      } finally {
        proxy.kill('SIGKILL')
        rest.close()
      }
    }
  },
)
