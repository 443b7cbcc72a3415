// Shared test helpers: parameter sets, running the cook in-process, temp directories.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import { main } from '../cook/cli.js'
import { COMMANDS } from '../cook/commands/index.js'
import { assertSealed, emptySealedPath } from './sealed.js'

export const FIXTURES = new URL('./fixtures/', import.meta.url)

/** The parameters of test/fixtures/basic.env as an object. */
export function basicEnv(): Record<string, string> {
  return parseDotenv(readFileSync(new URL('basic.env', FIXTURES), 'utf8'))
}

export interface CookRun {
  code: number
  out: string
  err: string
}

/**
 * Runs the cook's command line in-process with the given environment (nothing from the real one). What
 * the cook runs gets that environment's PATH, which must be sealed (test/sealed.ts): an empty one unless
 * the test gives the stand-ins' PATH; anything else is refused before the cook starts.
 */
export async function cook(argv: string[], env: Record<string, string | undefined> = {}): Promise<CookRun> {
  const sealed = { ...env, PATH: env.PATH ?? emptySealedPath() }
  assertSealed(sealed)
  const out: string[] = []
  const err: string[] = []
  // pot's environment file of this machine, if it has one, is no part of a test.
  const readsParams = 'environment-sh' in (COMMANDS[argv[0] as keyof typeof COMMANDS]?.options ?? {})
  const code = await main(
    readsParams
      ? [...argv.slice(0, 1), '--environment-sh', '/nonexistent/environment.sh', ...argv.slice(1)]
      : argv,
    { out: (l) => out.push(l), err: (l) => err.push(l), env: sealed },
  )
  return { code, out: out.join('\n'), err: err.join('\n') }
}

export function tempDir(t: { teardown: (fn: () => void) => void }, prefix = 'cook-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Why a test that needs root here cannot run, or false when it can. CI runs as root: there (`CI` set, as
 * .ci/run exports it and GitHub Actions and most CI services do) a test that would skip for want of root is
 * a failure instead, so a CI machine that lost root cannot pass by skipping the jail view.
 */
export function rootSkip(reason: string | false, env = process.env): string | false {
  if (reason === false) return false
  if ((env.CI ?? '') !== '' && env.CI !== 'false')
    throw new Error(
      `CI is set (CI=${env.CI}) but ${reason}: CI runs as root, so this is a failure, not a skip`,
    )
  return reason
}
