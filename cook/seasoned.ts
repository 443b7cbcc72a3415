// The seasoned marker: proof that a start with these parameters finished, and what each running service
// was last given. Plain hashes for what is public, keyed hashes (a per-jail random key, root-only) for
// anything that holds a secret, so the marker reveals nothing and cannot be used to test guesses offline.
import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { PARAM_NAMES, PARAMS, redacted, SECRET_NAMES, type Params } from './params.js'
import type { Plan, ServiceName } from './plan.js'
import { keyedDigest } from './secrets.js'
import { VERSION } from './version.js'

export const MARKER_FORMAT = 1

export interface Marker {
  format: number
  cook: string
  seasonedAt: string
  /** sha256 of the non-secret parameters and the cook's version. */
  params: string
  /** The non-secret parameters themselves, so a reseason can say which ones changed. */
  values: Record<string, string>
  /** Keyed hash of the secret parameters. */
  secrets: string
  /** Keyed hash of what each service reads (its files and rc.conf settings), as it was last (re)started. */
  services: Partial<Record<ServiceName, string>>
}

export function paramsDigest(p: Params): string {
  const open = PARAM_NAMES.filter((n) => !PARAMS[n].secret).map((n) => [n, p[n] ?? null])
  return createHash('sha256')
    .update(JSON.stringify([VERSION, ...open]))
    .digest('hex')
}

export function openValues(p: Params): Record<string, string> {
  const shown = redacted(p)
  return Object.fromEntries(PARAM_NAMES.filter((n) => !PARAMS[n].secret).map((n) => [n, shown[n]]))
}

/** Names whose value differs between two sets of non-secret parameters. */
export function changedNames(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((n) => before[n] !== after[n])
}

export function secretsDigest(key: string, p: Params): string {
  return keyedDigest(
    key,
    SECRET_NAMES.flatMap((n) => [n, p[n] === undefined ? '-' : `=${p[n]}`]),
  )
}

/** What a running service depends on: its section's files and its own rc.conf variables. */
export function serviceDigests(key: string, plan: Plan): Partial<Record<ServiceName, string>> {
  const out: Partial<Record<ServiceName, string>> = {}
  for (const svc of plan.services) {
    const files = plan.files.filter((f) => f.section === svc).flatMap((f) => [f.path, f.content])
    const rc = Object.entries(plan.rcConf)
      .filter(([k]) => k.startsWith(`${svc}_`))
      .sort()
      .flat()
    out[svc] = keyedDigest(key, [svc, ...files, '--rc--', ...rc])
  }
  return out
}

/** The marker a start with these parameters and this plan writes once it has finished (without its time). */
export function wantedMarker(key: string, p: Params, plan: Plan): Omit<Marker, 'seasonedAt'> {
  return {
    format: MARKER_FORMAT,
    cook: VERSION,
    params: paramsDigest(p),
    values: openValues(p),
    secrets: secretsDigest(key, p),
    services: serviceDigests(key, plan),
  }
}

export function readMarker(path: string): Marker | undefined {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<Marker>
    if (m.format !== MARKER_FORMAT || typeof m.params !== 'string' || typeof m.secrets !== 'string')
      return undefined
    return { ...(m as Marker), services: m.services ?? {}, values: m.values ?? {} }
  } catch {
    // Missing, or from an older image (potluck touched an empty file): season again.
    return undefined
  }
}

/** Written last, atomically: a start killed before this point leaves no marker, so the next one converges. */
export function writeMarker(path: string, marker: Marker): void {
  writeAtomic(path, `${JSON.stringify(marker, null, 2)}\n`, 0o644)
}

/** The per-jail key for the keyed hashes, created on first use. */
export function digestKey(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  const key = randomBytes(32).toString('hex')
  writeAtomic(path, `${key}\n`, 0o600)
  return key
}

function writeAtomic(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 })
  // A fixed name: a temp file left by a killed run is simply overwritten by the next one.
  const temp = `${path}.tmp`
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode)
  try {
    writeSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, path)
}
