// Secret material the cook computes: derived passwords and SCRAM-SHA-256 verifiers.
import { createHash, createHmac, hkdfSync, pbkdf2Sync, randomBytes } from 'node:crypto'

/**
 * Derives a password from KEKPASS so that every member computes the same value without an extra parameter.
 * HKDF, not a slow KDF: the derived passwords sit in the same 0600 file as KEKPASS itself, so slowing an
 * attacker here protects nothing, while the cook's start-up time is measured.
 */
export function derivePassword(kekpass: string, scope: string, purpose: string): string {
  const key = hkdfSync('sha256', Buffer.from(kekpass, 'utf8'), `patroni-postgresql/${scope}`, purpose, 24)
  return Buffer.from(key).toString('base64url')
}

/**
 * A PostgreSQL SCRAM-SHA-256 verifier (RFC 5803 form, as pg_authid stores it). Given as the password of
 * CREATE/ALTER ROLE it is stored as is, so the plaintext never reaches the server, argv or a log.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const prepared = saslprep(password)
  const salted = pbkdf2Sync(prepared, salt, iterations, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}

/**
 * PostgreSQL's SASLprep (src/common/saslprep.c) as far as passwords need it: non-ASCII spaces become
 * spaces, "mapped to nothing" characters go, NFKC; a password with prohibited characters (controls,
 * private use, unassigned) is used as raw bytes, which is what PostgreSQL does too.
 */
function saslprep(password: string): string {
  if (/^[\x20-\x7e]*$/.test(password)) return password
  if (/[\p{Cc}\p{Co}\p{Cn}\p{Cs}]/u.test(password)) return password
  const mapped = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    // eslint-disable-next-line no-misleading-character-class -- these code points are removed one by one
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .normalize('NFKC')
  return /[\p{Cc}\p{Co}\p{Cn}]/u.test(mapped) ? password : mapped
}

/** True when `verifier` was computed from `password` (lets a re-run keep an existing verifier). */
export function scramMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier)
  if (!m) return false
  return scramVerifier(password, Buffer.from(m[2] ?? '', 'base64'), Number(m[1])) === verifier
}

/** A keyed hash of secret values: records that they changed without storing anything that reveals them. */
export function keyedDigest(key: string, values: string[]): string {
  const h = createHmac('sha256', key)
  for (const v of values) h.update(`${v.length}:${v}`)
  return h.digest('hex')
}
