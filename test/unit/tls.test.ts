// Certificates as parameters: the three forms (PEM, base64, a path in the jail), the checks that refuse a
// member before anything is written (exit 78), the expiry warning, and what a TLS member's files hold, read
// back by their real readers (PyYAML, an HCL parser, patroni --validate-config).
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { JAIL_LAYOUT, PATHS } from '../../cook/layout.js'
import { validate, type Params } from '../../cook/params.js'
import { plan, type Plan } from '../../cook/plan.js'
import { redactedDiff } from '../../cook/apply.js'
import { checkMaterial, expiryWarnings, tlsWarnings } from '../../cook/tls.js'
import { readPem } from '../../scripts/lib/certs.js'
import { basicEnv, cook, tempDir } from '../helpers.js'
import { hcl2json, pyyaml } from '../hostile.js'
import { PG_BIN } from '../pg.js'
import { tlsFixture } from '../tls-fixture.js'

const DAY = 86_400_000
/** A parsed document, walked loosely: tap's match() checks the shapes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>
const { TLS: _off, ...plainEnv } = basicEnv()

/** basic.env with TLS on and the fixture's certificates as PEM text. */
function tlsEnv(f: ReturnType<typeof tlsFixture>, over: Record<string, string> = {}): Record<string, string> {
  return {
    ...plainEnv,
    TLSCA: readPem(f.ca.cert),
    TLSCERT: readPem(f.member.cert),
    TLSKEY: readPem(f.member.key),
    ...over,
  }
}

const content = (pl: Plan, path: string): string => pl.files.find((f) => f.path === path)?.content ?? ''

t.test('the three forms: PEM, base64 (also NAME_B64), a path in the jail', async (t) => {
  const f = tlsFixture(t)
  const pem = validate(tlsEnv(f))
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const asB64 = validate({
    ...plainEnv,
    TLSCA: b64(readPem(f.ca.cert)),
    TLSCERT: b64(readPem(f.member.cert)),
    TLSKEY: b64(readPem(f.member.key)),
  })
  const asPath = validate({ ...plainEnv, ...f.raw }, { allowLoopback: false, root: f.root })
  for (const p of [asB64, asPath]) {
    t.equal(p.TLSCA, pem.TLSCA)
    t.equal(p.TLSCERT, pem.TLSCERT)
    t.equal(p.TLSKEY, pem.TLSKEY)
  }
  const viaEnv = await cook(['check'], {
    ...plainEnv,
    TLSCA_B64: b64(readPem(f.ca.cert)),
    TLSCERT_B64: b64(readPem(f.member.cert)),
    TLSKEY_B64: b64(readPem(f.member.key)),
  })
  t.equal(viaEnv.code, 0, viaEnv.err)
  t.match(viaEnv.out, /^TLSKEY\s+<redacted>\s+\(environment\)$/m)
  t.match(
    viaEnv.out,
    /^TLSCERT\s+sha256:[0-9a-f]{16}\s+\(environment\)$/m,
    'a certificate shows as its fingerprint',
  )
  t.notMatch(viaEnv.out + viaEnv.err, /BEGIN|PRIVATE/, 'no PEM printed')
})

/** `cook render` into an empty root: the exit code, the failing names, and whether anything was written. */
async function refused(t: Test, env: Record<string, string>): Promise<{ names: string[]; err: string }> {
  const root = tempDir(t)
  const r = await cook(['render', '--root', root, '--owners', 'record'], env)
  t.equal(r.code, 78, 'exit 78 (EX_CONFIG)')
  t.same(readdirSync(root), [], 'nothing written')
  t.notMatch(r.err, /BEGIN|PRIVATE KEY|MII/, 'no PEM in the message')
  return { names: [...new Set(r.err.split('\n').map((l) => l.split(':')[0] ?? ''))].sort(), err: r.err }
}

t.test('a member is refused before anything is written', async (t) => {
  const f = tlsFixture(t)
  await t.test('SAN without MYIP', async (t) => {
    const wrongIp = f.issue('pg1-wrong-ip', { ips: ['10.0.0.99'], dns: ['pg1'] })
    const r = await refused(t, tlsEnv(f, { TLSCERT: readPem(wrongIp.cert), TLSKEY: readPem(wrongIp.key) }))
    t.same(r.names, ['TLSCERT'])
    t.match(r.err, /subjectAltName \(IP Address:10\.0\.0\.99, DNS:pg1\) does not cover MYIP 10\.0\.0\.11/)
  })
  await t.test('a key that is not the certificate’s', async (t) => {
    const other = f.issue('pg1-other', { ips: ['10.0.0.11'] })
    const r = await refused(t, tlsEnv(f, { TLSKEY: readPem(other.key) }))
    t.same(r.names, ['TLSKEY'])
    t.match(r.err, /TLSKEY: does not match the public key of TLSCERT/)
  })
  await t.test(
    'a certificate another CA signed, a CA that is no CA, a DNS name of another host',
    async (t) => {
      const stranger = tlsFixture(t)
      const r = await refused(t, tlsEnv(f, { TLSCA: readPem(stranger.ca.cert) }))
      t.match(r.err, /TLSCERT: "CN=pg1" \(issuer CN=dev-ca\) does not chain to TLSCA/)
      const notCa = await refused(t, tlsEnv(f, { TLSCA: readPem(f.member.cert) }))
      t.match(notCa.err, /TLSCA: "CN=pg1" is not a CA certificate/)
      const pg2 = f.issue('pg2', { ips: ['10.0.0.11'], dns: ['pg2.example'] })
      const named = await refused(t, tlsEnv(f, { TLSCERT: readPem(pg2.cert), TLSKEY: readPem(pg2.key) }))
      t.match(named.err, /its DNS names \(pg2\.example\) name another host, not NODENAME pg1/)
    },
  )
  await t.test('garbage, an unreadable path, and TLS on without certificates', async (t) => {
    const r = await refused(t, {
      ...plainEnv,
      TLSCA: '/nonexistent/ca.crt',
      TLSCERT: 'not pem',
      TLSKEY: Buffer.from('hello').toString('base64'),
    })
    t.same(r.names, ['TLSCA', 'TLSCERT', 'TLSKEY'])
    t.match(r.err, /TLSCA: cannot read the file \/nonexistent\/ca\.crt: ENOENT/)
    t.match(r.err, /TLSKEY: is base64, but not of PEM text/)
    const none = await refused(t, plainEnv)
    t.same(none.names, ['TLSCA', 'TLSCERT', 'TLSKEY'], 'TLS is on unless TLS=off says otherwise')
    const both = await refused(t, { ...tlsEnv(f), TLS: 'off' })
    t.match(both.err, /TLSCA: is given, but TLS=off/)
  })
  await t.test('expired (checked at a later date), and the warning 14 days before', async (t) => {
    const m = { ca: readPem(f.ca.cert), cert: readPem(f.member.cert), key: readPem(f.member.key) }
    const who = { ip: '10.0.0.11', name: 'pg1' }
    t.same(checkMaterial(m, who), [], 'fits today')
    t.same(
      checkMaterial(m, who, new Date(Date.now() + 31 * DAY)).map((p) => p.name),
      ['TLSCERT', 'TLSCA'],
      'both expired 31 days on (they are made for 30)',
    )
    t.same(expiryWarnings(m, new Date(Date.now() + 10 * DAY)), [], '20 days left: no warning')
    const warned = expiryWarnings(m, new Date(Date.now() + 20 * DAY))
    t.equal(warned.length, 2)
    t.match(warned[0], /^TLSCERT: "CN=pg1" expires on \d{4}-\d\d-\d\d \(10\.0 days left\); rotate it/)
    t.match(tlsWarnings({ TLS: 'off', TLSCA: undefined, TLSCERT: undefined })[0], /^TLS=off: .* plain text/)
  })
})

t.test('a TLS member: files, owners, modes, and what each reader sees', async (t) => {
  const f = tlsFixture(t)
  const p: Params = validate(tlsEnv(f))
  const pl = plan(p)
  const tlsFiles = pl.files
    .filter((x) => x.format === 'pem')
    .map((x) => [x.path, x.mode.toString(8), x.owner, x.section])
  t.same(tlsFiles, [
    // Each exporter's own copy of the member certificate and key, for its TLS listener (web config).
    ['/usr/local/etc/node_exporter/member.crt', '640', 'nodeexport', 'node_exporter'],
    ['/usr/local/etc/node_exporter/member.key', '600', 'nodeexport', 'node_exporter'],
    ['/usr/local/etc/postgres_exporter/member.crt', '640', 'pgmonitor', 'postgres_exporter'],
    ['/usr/local/etc/postgres_exporter/member.key', '600', 'pgmonitor', 'postgres_exporter'],
    [PATHS.patroniCa, '640', 'postgres', 'patroni'],
    [PATHS.patroniCert, '640', 'postgres', 'patroni'],
    [PATHS.patroniKey, '600', 'postgres', 'patroni'],
    [PATHS.consulCa, '640', 'consul', 'consul'],
    [PATHS.consulCert, '640', 'consul', 'consul'],
    [PATHS.consulKey, '600', 'consul', 'consul'],
  ])
  t.equal(content(pl, PATHS.patroniKey), p.TLSKEY)
  const keyFile = pl.files.find((x) => x.path === PATHS.patroniKey)
  t.equal(
    redactedDiff(keyFile!, ''),
    redactedDiff(keyFile!, '').replace(/MI[A-Za-z0-9+/]{10,}/g, ''),
    'a dry-run diff of the key shows no key',
  )
  t.notMatch(redactedDiff(keyFile!, 'old'), /PRIVATE|MI/)

  const [y] = pyyaml([content(pl, PATHS.patroniYml)]) as [Doc]
  t.match(y.restapi, {
    certfile: PATHS.patroniCert,
    keyfile: PATHS.patroniKey,
    authentication: { username: 'patroni' },
  })
  t.same(y.ctl, { insecure: false, cacert: PATHS.patroniCa })
  const pg = y.postgresql as Doc
  t.match(pg.parameters, { ssl: 'on', ssl_cert_file: PATHS.patroniCert, ssl_key_file: PATHS.patroniKey })
  for (const who of ['superuser', 'replication', 'rewind'])
    t.match(
      pg.authentication[who],
      { sslmode: 'verify-full', sslrootcert: PATHS.patroniCa },
      `${who} verifies the server`,
    )
  const tcp = (pg.pg_hba as string[]).filter((l) => !l.startsWith('local '))
  t.ok(
    tcp.length >= 4 && tcp.every((l) => l.startsWith('hostssl ') || / reject$/.test(l)),
    'every TCP line of pg_hba that admits anyone is hostssl (reject lines refuse with TLS or without)',
  )
  t.same(y.bootstrap?.pg_hba, pg.pg_hba)

  const agent = (await hcl2json(content(pl, PATHS.consulAgent))) as Doc
  t.match(agent.tls?.[0]?.defaults?.[0], {
    ca_file: PATHS.consulCa,
    cert_file: PATHS.consulCert,
    key_file: PATHS.consulKey,
    verify_outgoing: true,
  })
  t.match(agent.tls?.[0]?.internal_rpc?.[0], { verify_server_hostname: true })
  t.equal(agent.enable_agent_tls_for_checks, true, "the agent's HTTPS checks of Patroni verify with the CA")
  t.notOk('auto_encrypt' in agent)
  const auto = plan(validate(tlsEnv(f, { CONSULAUTOENCRYPT: 'on' })))
  const autoAgent = (await hcl2json(content(auto, PATHS.consulAgent))) as Doc
  t.same(autoAgent.auto_encrypt, [{ tls: true }])
  t.notOk('cert_file' in autoAgent.tls[0].defaults[0], 'auto_encrypt: the servers issue the certificate')
  t.notOk(
    auto.files.some((x) => x.path === PATHS.consulKey),
    'and no key is written for the agent',
  )

  const etcd = pyyaml([
    content(plan(validate(tlsEnv(f, { DCS: 'etcd', ETCDHOSTS: '10.0.0.2' }))), PATHS.patroniYml),
  ])[0] as Doc
  t.match(etcd.etcd3, {
    protocol: 'https',
    cacert: PATHS.patroniCa,
    cert: PATHS.patroniCert,
    key: PATHS.patroniKey,
  })
  const proxied = pyyaml([
    content(plan(validate(tlsEnv(f, { DCS: 'etcd', ETCDPROXY: '127.0.0.1:23790' }))), PATHS.patroniYml),
  ])[0] as Doc
  t.equal(proxied.etcd3.proxy, 'https://127.0.0.1:23790', 'TLS passes through the local proxy')
})

t.test('patroni --validate-config accepts a TLS patroni.yml with its real files', async (t) => {
  const f = tlsFixture(t)
  const dir = tempDir(t)
  const myip = `127.0.1.${100 + (process.pid % 100)}`
  const cert = f.issue('pg1-loop', { ips: [myip], dns: ['pg1'] })
  const layout = { ...JAIL_LAYOUT, base: dir, pgBinDir: PG_BIN }
  const p = validate(
    {
      ...tlsEnv(f),
      MYIP: myip,
      TLSCERT: readPem(cert.cert),
      TLSKEY: readPem(cert.key),
      DCS: 'etcd',
      ETCDHOSTS: '127.0.0.1:1',
      TTL: '10',
      LOOPWAIT: '2',
      RETRYTIMEOUT: '4',
    },
    { allowLoopback: true },
  )
  const pl = plan(p, layout)
  for (const file of pl.files.filter((x) => x.format === 'pem')) {
    const full = join(dir, file.path)
    spawnSync('mkdir', ['-p', join(full, '..')])
    writeFileSync(full, file.content, { mode: file.mode })
  }
  const yml = join(dir, 'patroni.yml')
  writeFileSync(yml, content(pl, PATHS.patroniYml))
  const r = spawnSync('patroni', ['--validate-config', yml], { encoding: 'utf8' })
  const real = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l !== '' && !/Port \d+ is already in use|etcd|DCS/.test(l))
  t.same(real, [], `${r.stdout}${r.stderr}`)
  t.equal(statSync(join(dir, PATHS.patroniKey)).mode & 0o777, 0o600)
  t.equal(readFileSync(join(dir, PATHS.patroniCa), 'utf8'), p.TLSCA)
})
