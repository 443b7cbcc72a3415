// Certificates as parameters: reading TLSCA, TLSCERT and TLSKEY (PEM, base64 of PEM, or a path in the jail),
// and the checks that run before anything is written: the key matches the certificate, the certificate
// chains to the CA, its SANs cover MYIP (and NODENAME), nothing is expired. node:crypto's X509Certificate
// does the work, so the checks are OpenSSL's, not a parser of our own.
import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A certificate this close to its end gets a warning at every start. */
export const WARN_DAYS = 14
const DAY_MS = 86_400_000

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g

/**
 * The PEM text of a value: PEM as is, an absolute path read under `root` (the jail's `/`), or base64 of PEM
 * (what survives pot's environment, which cannot carry a line break). Returns a reason when it is none of them.
 */
export function pemText(text: string, root: string): { pem: string } | { why: string } {
  let pem: string
  if (text.includes('-----BEGIN ')) pem = text
  else if (text.startsWith('/')) {
    try {
      pem = readFileSync(join(root, text), 'utf8')
    } catch (e) {
      return { why: `cannot read the file ${text}: ${(e as NodeJS.ErrnoException).code ?? 'error'}` }
    }
    if (!pem.includes('-----BEGIN ')) return { why: `the file ${text} holds no PEM block` }
  } else {
    const compact = text.replace(/\s+/g, '')
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact))
      return { why: 'is neither PEM, nor an absolute path, nor base64' }
    pem = Buffer.from(compact, 'base64').toString('utf8')
    if (!pem.includes('-----BEGIN ')) return { why: 'is base64, but not of PEM text' }
  }
  const blocks = pem.match(PEM_BLOCK)
  if (!blocks) return { why: 'has a PEM header without a matching footer' }
  // Only the blocks themselves: no comments or other text lands in the jail's files.
  return { pem: `${blocks.join('\n')}\n` }
}

/** Each certificate of a PEM bundle, or the reason the bundle is not one. */
export function parseCertificates(pem: string): X509Certificate[] | string {
  const blocks = pem.match(PEM_BLOCK) ?? []
  const out: X509Certificate[] = []
  for (const [i, block] of blocks.entries()) {
    if (!block.startsWith('-----BEGIN CERTIFICATE-----'))
      return `block ${i + 1} is ${/BEGIN ([A-Z0-9 ]+)-----/.exec(block)?.[1] ?? 'not a certificate'}, not a CERTIFICATE`
    try {
      out.push(new X509Certificate(block))
    } catch (e) {
      return `certificate ${i + 1} does not parse (${(e as Error).message})`
    }
  }
  return out.length > 0 ? out : 'holds no certificate'
}

export function parsePrivateKey(pem: string): KeyObject | string {
  const blocks = pem.match(PEM_BLOCK) ?? []
  if (blocks.length !== 1) return `holds ${blocks.length} PEM blocks; want exactly one private key`
  if (/ENCRYPTED/.test(blocks[0] ?? ''))
    return 'is an encrypted key; want it unencrypted (the file is written 0600 for its service)'
  try {
    return createPrivateKey(blocks[0] ?? '')
  } catch {
    // Never echo the error: it could quote the key's bytes.
    return 'is not a private key that OpenSSL reads'
  }
}

/** What the certificates must cover: this member. */
export interface TlsSubject {
  ip: string
  name: string
}

export interface TlsMaterial {
  ca: string
  cert: string
  key: string
}

/** Problems with the three together, by parameter name; an empty list when they fit. */
export function checkMaterial(
  m: TlsMaterial,
  who: TlsSubject,
  now = new Date(),
): { name: 'TLSCA' | 'TLSCERT' | 'TLSKEY'; message: string }[] {
  const ca = parseCertificates(m.ca)
  const chain = parseCertificates(m.cert)
  const key = parsePrivateKey(m.key)
  if (typeof ca === 'string' || typeof chain === 'string' || typeof key === 'string') return []
  const problems: { name: 'TLSCA' | 'TLSCERT' | 'TLSKEY'; message: string }[] = []
  const [leaf, ...intermediates] = chain
  if (!leaf) return []
  if (!leaf.checkPrivateKey(key))
    problems.push({ name: 'TLSKEY', message: `does not match the public key of TLSCERT (${subject(leaf)})` })
  const path = chainTo(leaf, intermediates, ca)
  if (typeof path === 'string') problems.push({ name: 'TLSCERT', message: path })
  if (leaf.checkIP(who.ip) === undefined)
    problems.push({
      name: 'TLSCERT',
      message: `its subjectAltName (${leaf.subjectAltName ?? 'none'}) does not cover MYIP ${who.ip}; clients that verify the server (sslmode=verify-full, HAProxy, patronictl, the replicas) would refuse it`,
    })
  const dns = sanDnsNames(leaf)
  if (
    dns.length > 0 &&
    !dns.some((d) => d.toLowerCase() === who.name || d.toLowerCase().startsWith(`${who.name}.`))
  )
    problems.push({
      name: 'TLSCERT',
      message: `its DNS names (${dns.join(', ')}) name another host, not NODENAME ${who.name} (nor ${who.name}.<domain>)`,
    })
  for (const [name, cert] of [
    ['TLSCERT', leaf],
    ...intermediates.map((c) => ['TLSCERT', c] as const),
    ...ca.map((c) => ['TLSCA', c] as const),
  ] as const) {
    if (new Date(cert.validTo).getTime() <= now.getTime())
      problems.push({ name, message: `${subject(cert)} expired on ${iso(cert.validTo)}` })
    else if (new Date(cert.validFrom).getTime() > now.getTime())
      problems.push({ name, message: `${subject(cert)} is not valid before ${iso(cert.validFrom)}` })
  }
  return problems
}

/** One line for a certificate bundle in listings and the seasoned marker: its fingerprints, never the PEM. */
export function pemSummary(pem: string): string {
  const certs = parseCertificates(pem)
  if (typeof certs === 'string') return '<PEM>'
  return certs.map((c) => `sha256:${c.fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase()}`).join(',')
}

/** Certificates that end within WARN_DAYS: a start still works, but rotation is due. */
export function expiryWarnings(m: Pick<TlsMaterial, 'ca' | 'cert'>, now = new Date()): string[] {
  const out: string[] = []
  for (const [name, pem] of [
    ['TLSCERT', m.cert],
    ['TLSCA', m.ca],
  ] as const) {
    const certs = parseCertificates(pem)
    if (typeof certs === 'string') continue
    for (const c of certs) {
      const left = (new Date(c.validTo).getTime() - now.getTime()) / DAY_MS
      if (left > 0 && left < WARN_DAYS)
        out.push(
          `${name}: ${subject(c)} expires on ${iso(c.validTo)} (${left.toFixed(1)} days left); ` +
            'rotate it: a new certificate is picked up with a reload, without a restart',
        )
    }
  }
  return out
}

/** Walks from the leaf through the given intermediates to one of the CA certificates. */
function chainTo(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  cas: X509Certificate[],
): true | string {
  let current = leaf
  const pool = [...intermediates]
  for (let depth = 0; depth <= intermediates.length; depth++) {
    if (cas.some((ca) => issuedBy(current, ca))) return true
    const next = pool.findIndex((c) => c.ca && issuedBy(current, c))
    if (next < 0) break
    current = pool.splice(next, 1)[0] as X509Certificate
  }
  return `${subject(leaf)} (issuer ${oneLine(leaf.issuer)}) does not chain to TLSCA (${cas.map(subject).join('; ')})`
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
}

function sanDnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4))
}

const oneLine = (dn: string) => dn.split('\n').join(', ')
const subject = (c: X509Certificate) => `"${oneLine(c.subject)}"`
const iso = (date: string) => new Date(date).toISOString().slice(0, 10)

/** What a start says about TLS besides errors: certificates near their end, or that TLS is off. */
export function tlsWarnings(
  p: { TLS: 'on' | 'off'; TLSCA: string | undefined; TLSCERT: string | undefined },
  now = new Date(),
): string[] {
  if (p.TLS === 'off')
    return [
      'TLS=off: client sessions, replication, the REST API (its password included) and the DCS links travel ' +
        'in plain text, and no client can verify it talks to this server',
    ]
  return p.TLSCA !== undefined && p.TLSCERT !== undefined
    ? expiryWarnings({ ca: p.TLSCA, cert: p.TLSCERT }, now)
    : []
}
