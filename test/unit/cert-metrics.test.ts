// The certificate-expiry metrics file: its numbers are the certificates' own notAfter, promtool reads it as
// valid Prometheus text, node_exporter's directory is in rc.conf, and TLS=off writes no file.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { earliestNotAfter } from '../../cook/cert-metrics.js'
import { PATHS } from '../../cook/layout.js'
import { validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { basicEnv } from '../helpers.js'
import { tlsFixture } from '../tls-fixture.js'

const seconds = (pemFile: string) =>
  Math.floor(new Date(new X509Certificate(readFileSync(pemFile)).validTo).getTime() / 1000)

t.test('with TLS: one gauge per TLS file, its earliest notAfter, read by promtool', async (t) => {
  const tls = tlsFixture(t)
  // GIVEN a member certificate that expires well before its CA
  const member = tls.issue('pg1-short', { ips: ['10.0.0.11'], days: 20 })
  const p = validate(
    {
      ...basicEnv(),
      ...tls.raw,
      TLSCERT: readFileSync(member.cert, 'utf8'),
      TLSKEY: readFileSync(member.key, 'utf8'),
    },
    { allowLoopback: false, root: tls.root },
  )
  // WHEN the plan is made
  const pl = plan(p)
  const file = pl.files.find((f) => f.path === PATHS.tlsExpiryMetrics)
  // THEN the file holds both times, readable by node_exporter's user, and nothing restarts for it
  t.ok(file, 'the metrics file is in the plan')
  if (!file) return
  t.equal(file.mode, 0o644)
  t.equal(file.section, 'metrics')
  t.ok(
    pl.dirs.some((d) => d.path === PATHS.textfileDir && d.mode === 0o755),
    'a directory others can read',
  )
  t.equal(pl.rcConf.node_exporter_textfile_dir, PATHS.textfileDir, "the port's rc script variable")
  const values = Object.fromEntries(
    [...file.content.matchAll(/^cook_tls_certificate_not_after_seconds\{file="(\w+)"\} (\d+)$/gm)].map(
      (m) => [m[1], Number(m[2])],
    ),
  )
  t.same(values, { member: seconds(member.cert), ca: seconds(tls.ca.cert) })
  t.ok(
    (values.member ?? 0) < (values.ca ?? 0),
    'the short-lived member certificate is told apart from the CA',
  )
  const check = spawnSync('promtool', ['check', 'metrics'], { input: file.content, encoding: 'utf8' })
  t.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`)
  t.equal(
    plan(p).files.find((f) => f.path === PATHS.tlsExpiryMetrics)?.content,
    file.content,
    'the same bytes again',
  )
})

t.test('a bundle counts by its earliest certificate', async (t) => {
  const tls = tlsFixture(t)
  const soon = tls.issue('soon', { days: 3 })
  const bundle = readFileSync(tls.ca.cert, 'utf8') + readFileSync(soon.cert, 'utf8')
  t.equal(earliestNotAfter(bundle), seconds(soon.cert))
  t.throws(() => earliestNotAfter('not a certificate'))
})

t.test('TLS=off: the directory and rc.conf variable, no file', async (t) => {
  const pl = plan(validate(basicEnv()))
  t.notOk(pl.files.some((f) => f.path === PATHS.tlsExpiryMetrics))
  t.equal(pl.rcConf.node_exporter_textfile_dir, PATHS.textfileDir)
})
