// What a development cluster needs on this machine, and a message that says how to get it (no stack trace).
import { execFileSync } from 'node:child_process'
import { accessSync, constants, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { PG_BIN } from './pg.js'

interface Need {
  what: string
  /** An absolute path, or a command looked up on PATH. */
  file: string
  pkg: string
}

const NEEDS: Need[] = [
  { what: 'PostgreSQL 15 server', file: `${PG_BIN}/postgres`, pkg: 'postgresql-15' },
  { what: 'psql', file: `${PG_BIN}/psql`, pkg: 'postgresql-client-15' },
  { what: 'Patroni', file: 'patroni', pkg: 'patroni' },
  { what: 'etcd', file: 'etcd', pkg: 'etcd-server' },
  { what: 'HAProxy', file: 'haproxy', pkg: 'haproxy' },
  { what: 'setpriv', file: 'setpriv', pkg: 'util-linux' },
  { what: 'python3', file: '/usr/bin/python3', pkg: 'python3' },
]

function executable(file: string): boolean {
  const candidates = file.startsWith('/')
    ? [file]
    : (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).map((dir) => join(dir, file))
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** The install lines of scripts/install-deps, so the message and the script cannot drift apart. */
function installLines(): { debian: string; freebsd: string } {
  let text = ''
  // From source this module is scripts/lib/deps.ts; bundled by run-ts.mjs it is part of dist/NAME.mjs.
  for (const rel of ['../install-deps', '../scripts/install-deps']) {
    try {
      text = readFileSync(new URL(rel, import.meta.url), 'utf8')
      break
    } catch {
      // try the other place
    }
  }
  const debian = /^DEBIAN_PACKAGES="([^"]*)"/m.exec(text)?.[1] ?? ''
  const freebsd = /(pkg install -y [^"]*)"/.exec(text)?.[1] ?? ''
  return { debian, freebsd }
}

/** Problems that stop a development cluster before it starts; empty when everything is there. */
export function missingDeps(): string[] {
  const problems: string[] = []
  if (process.platform !== 'linux')
    problems.push(
      `the development cluster runs on Linux (it reads /proc and uses setpriv); this is ${process.platform}`,
    )
  if (process.getuid?.() !== 0)
    problems.push(
      'it must run as root: it writes member trees owned by postgres and starts Patroni as postgres (sudo npm run cluster)',
    )
  const missing = NEEDS.filter((n) => !executable(n.file))
  for (const n of missing) problems.push(`${n.what} is missing (${n.file}; Debian package ${n.pkg})`)
  if (!missing.some((n) => n.pkg === 'python3')) {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import psycopg2, yaml, etcd'], { stdio: 'ignore' })
    } catch {
      problems.push(
        "Patroni's Python modules psycopg2, yaml or etcd are missing (python3-psycopg2 python3-yaml python3-etcd)",
      )
    }
  }
  if (missing.length > 0 || problems.some((p) => p.includes('Python modules'))) {
    const { debian, freebsd } = installLines()
    problems.push('install them with: scripts/install-deps')
    if (debian) problems.push(`  or by hand: apt-get install -y ${debian}`)
    if (freebsd) problems.push(`  on FreeBSD: ${freebsd}`)
  }
  return problems
}
