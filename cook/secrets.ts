// Secret material the cook computes: derived passwords and SCRAM-SHA-256 verifiers.
import { createHash, createHmac, hkdfSync, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto'
import { L_CAT, MAPPED_TO_NOTHING, NON_ASCII_SPACE, PROHIBITED, RAND_AL_CAT } from './saslprep-tables.js'

/**
 * scrypt's cost for the KEKPASS master key (RFC 7914): N = 2^15, r = 8, p = 1 takes 128 * N * r = 32 MiB and
 * about 0.13 s on the 2-core test machine (DEVELOPMENT.md, "Performance"). Whoever holds one derived password
 * (MONPASS sits in a file the network-facing exporter reads, RESTPASS travels as HTTP Basic) pays that for
 * every KEKPASS guess. maxmem leaves room above the 32 MiB (Node's own limit is exactly 32 MiB).
 */
export const KDF = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const

const masterKeys = new Map<string, Buffer>()

/**
 * scrypt(KEKPASS) with SCOPE in the salt, computed once per process: every member derives the same key, so
 * the salt cannot be random. The fixed salt lets one precomputed dictionary serve every cluster of the same
 * SCOPE, which is why KEKPASS has a minimum length (params.ts).
 */
export function masterKey(kekpass: string, scope: string): Buffer {
  const id = `${scope}\0${kekpass}`
  let key = masterKeys.get(id)
  if (key === undefined) {
    key = scryptSync(Buffer.from(kekpass, 'utf8'), `patroni-postgresql/kek/${scope}`, 32, KDF)
    // A handful: the tests validate many parameter sets, a cook run only one.
    if (masterKeys.size >= 16) masterKeys.clear()
    masterKeys.set(id, key)
  }
  return key
}

/**
 * Derives a password from KEKPASS so that every member computes the same value without an extra parameter:
 * one scrypt (masterKey), then HKDF-SHA256 per purpose. The expansion is cheap and sound: its input is
 * already a uniformly random 32-byte key, and HKDF's outputs for different purposes reveal nothing about
 * each other or the key, so a leaked derived password leaves only a guess at KEKPASS, at scrypt's price.
 */
export function derivePassword(kekpass: string, scope: string, purpose: string): string {
  const key = hkdfSync('sha256', masterKey(kekpass, scope), `patroni-postgresql/${scope}`, purpose, 24)
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

function inTable(table: readonly number[], cp: number): boolean {
  let lo = 0
  let hi = table.length / 2 - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (cp < (table[2 * mid] ?? 0)) hi = mid - 1
    else if (cp > (table[2 * mid + 1] ?? 0)) lo = mid + 1
    else return true
  }
  return false
}

/**
 * SASLprep (RFC 4013) exactly as PostgreSQL applies it to a SCRAM password (src/common/saslprep.c), so the
 * verifier matches what libpq proves at login: ASCII is used as is; otherwise non-ASCII spaces become
 * spaces and "mapped to nothing" characters go. PostgreSQL then checks the *mapped* text (not the
 * normalised one) for prohibited or, in Unicode 3.2, unassigned characters and for the bidirectional
 * rule, and returns the NFKC form. When a check fails, PostgreSQL and libpq use the password's raw UTF-8
 * bytes, and so does this function. Proven against PostgreSQL itself in test/unit/postgres.test.ts.
 */
export function saslprep(password: string): string {
  if ([...password].every((c) => c.charCodeAt(0) < 0x80)) return password
  const mapped: number[] = []
  for (const c of password) {
    const cp = c.codePointAt(0) ?? 0
    if (inTable(NON_ASCII_SPACE, cp)) mapped.push(0x20)
    else if (!inTable(MAPPED_TO_NOTHING, cp)) mapped.push(cp)
  }
  if (mapped.length === 0) return password
  if (mapped.some((cp) => inTable(PROHIBITED, cp))) return password
  if (mapped.some((cp) => inTable(RAND_AL_CAT, cp))) {
    if (mapped.some((cp) => inTable(L_CAT, cp))) return password
    const first = mapped[0] ?? 0
    const last = mapped[mapped.length - 1] ?? 0
    if (!inTable(RAND_AL_CAT, first) || !inTable(RAND_AL_CAT, last)) return password
  }
  return String.fromCodePoint(...mapped).normalize('NFKC')
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
