// A throwaway certificate authority for the development cluster and the tests, made with openssl at start:
// nothing is committed, nothing outlives the cluster's folder. Keys are files 0600; openssl gets only paths.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Issued {
  /** Paths of the PEM files. */
  cert: string
  key: string
}

export interface Ca extends Issued {
  dir: string
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A P-256 CA valid for `days` (EC keys: quick to make, and what a modern PKI issues). */
export function makeCa(dir: string, name = 'dev-ca', days = 30): Ca {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const ca = { dir, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', ca.key, '-out', ca.cert, '-days', String(days), '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]) // prettier-ignore
  chmodSync(ca.key, 0o600)
  return ca
}

export interface CertOptions {
  ips?: string[]
  dns?: string[]
  /** Days from now (expiry is tested with a later `now`, not with a certificate made expired). */
  days?: number
  /** Sign with this CA's key instead (a certificate that does not chain to the CA the member is given). */
  signer?: Ca
}

/** A server+client certificate for `name` signed by the CA, its SANs the given addresses and names. */
export function issue(ca: Ca, name: string, o: CertOptions = {}): Issued {
  const signer = o.signer ?? ca
  const out = { cert: join(ca.dir, `${name}.crt`), key: join(ca.dir, `${name}.key`) }
  const csr = join(ca.dir, `${name}.csr`)
  const ext = join(ca.dir, `${name}.ext`)
  const san = [...(o.ips ?? []).map((ip) => `IP:${ip}`), ...(o.dns ?? []).map((d) => `DNS:${d}`)]
  writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
      '',
    ].join('\n'),
  )
  openssl([
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', out.key, '-out', csr, '-subj', `/CN=${name}`,
  ]) // prettier-ignore
  chmodSync(out.key, 0o600)
  openssl([
    'x509', '-req', '-in', csr, '-CA', signer.cert, '-CAkey', signer.key, '-CAcreateserial',
    '-days', String(o.days ?? 30), '-extfile', ext, '-out', out.cert,
  ]) // prettier-ignore
  return out
}

export const readPem = (path: string) => readFileSync(path, 'utf8')
