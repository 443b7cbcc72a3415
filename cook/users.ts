// User lookup from /etc/passwd (FreeBSD generates it from master.passwd): node has no getpwnam.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Account {
  uid: number
  gid: number
  home: string
}

/** Looks a user up in `<root>/etc/passwd`; root falls back to 0:0 when the file lacks it. */
export function lookupUser(name: string, etcRoot = '/'): Account | undefined {
  let text = ''
  try {
    text = readFileSync(join(etcRoot, 'etc/passwd'), 'utf8')
  } catch {
    // no passwd file: only root is known
  }
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }
  }
  return name === 'root' ? { uid: 0, gid: 0, home: '/root' } : undefined
}
