// What the role files held before this run: the thin layer reads it, plan() decides with it (plan.ts
// PriorVerifiers). Keeping a verifier that still proves its password is what makes a second run write the same
// bytes now that the salts are random.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PATHS } from './layout.js'
import type { PriorVerifiers } from './plan.js'

const VERIFIER = /'(SCRAM-SHA-256\$(\d+):[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+)'/g

/**
 * The postgres user owns these files, so their content is not trusted: only a verifier that the template
 * itself would write is taken (every occurrence the same one), and an iteration count that would make the
 * check slow counts as none (cook writes 4096; PostgreSQL's default is 4096 too).
 */
export function verifierIn(text: string): string | undefined {
  const found = [...text.matchAll(VERIFIER)]
  const first = found[0]
  if (!first || found.some((m) => m[1] !== first[1])) return undefined
  const iterations = Number(first[2])
  return iterations >= 1 && iterations <= 100_000 ? first[1] : undefined
}

function fileVerifier(path: string): string | undefined {
  try {
    return verifierIn(readFileSync(path, 'utf8'))
  } catch {
    // Missing (a first run) or unreadable: a new verifier, with a new salt.
    return undefined
  }
}

/** The verifiers in the admin and monitor role files under `root`, the jail's `/`. */
export function readPriorVerifiers(root: string): PriorVerifiers {
  return {
    admin: fileVerifier(join(root, PATHS.adminRoleSql)),
    monitor: fileVerifier(join(root, PATHS.monitorRoleSql)),
  }
}
