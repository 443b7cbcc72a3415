// Certificates for the unit tests, made at test time (scripts/lib/certs.ts, openssl): a jail root whose
// /mnt/tls holds a CA and the certificate of the typical member (pg1, 10.0.0.11), the paths the schema's
// examples name.
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Ca, issue, makeCa, type CertOptions, type Issued } from '../scripts/lib/certs.js'
import { PARAMS } from '../cook/params.js'
import { tempDir } from './helpers.js'

export interface TlsFixture {
  /** A jail root with the example paths filled in. */
  root: string
  ca: Ca
  member: Issued
  /** TLS=on and the three certificate parameters as the examples write them (paths in the jail). */
  raw: Record<string, string>
  /** Another certificate from this fixture's CA (or another signer), for what must be refused. */
  issue: (name: string, o: CertOptions) => Issued
}

export function tlsFixture(t: { teardown: (fn: () => void) => void }): TlsFixture {
  const dir = tempDir(t, 'cook-tls-')
  const ca = makeCa(join(dir, 'ca'))
  const member = issue(ca, 'pg1', { ips: ['10.0.0.11'], dns: ['pg1', 'pg1.example'] })
  const root = join(dir, 'jail')
  const raw = {
    TLS: 'on',
    TLSCA: PARAMS.TLSCA.example,
    TLSCERT: PARAMS.TLSCERT.example,
    TLSKEY: PARAMS.TLSKEY.example,
  }
  mkdirSync(join(root, 'mnt/tls'), { recursive: true })
  copyFileSync(ca.cert, join(root, raw.TLSCA))
  copyFileSync(member.cert, join(root, raw.TLSCERT))
  copyFileSync(member.key, join(root, raw.TLSKEY))
  return { root, ca, member, raw, issue: (name, o) => issue(ca, name, o) }
}
