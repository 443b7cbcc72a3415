// What pot's start script leaves in the jail that holds the task's environment, secrets included
// (bsdpot/pot share/pot/start.sh at 5ef4db1, _js_env and _js_norc):
// - no-rc-script (Nomad's `pot prepare`): the pot.env lines, as `export "NAME=value"`, are appended to
//   /tmp/tinirc, which ends with `exec <pot.cmd>` and gets `chmod a+x`: mode 0755, every jail user reads it;
// - rc scripts: the same lines are copied to /tmp/environment.sh (mktemp's 0600, root), which cook reads.
// tinirc has done its work once cook runs: sh reads it up to `exec`, which replaces sh by cook, and pot
// writes a new one at the next start. So cook rewrites it in place without those lines. In place: the
// file keeps its name in the world-writable /tmp, so no jail user can take the name before pot's next
// write. environment.sh stays: it is root's alone (cook checks that before it reads it), and `cook check`,
// `cook render --dry-run` and a re-run read it. /tmp is world-writable, so scrubTinirc touches only what is
// provably pot's tinirc; anything else at that name is left alone with a warning.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs'

export const TINIRC = '/tmp/tinirc'

/** pot's environment lines: `export "NAME=value"`, the continuation lines of a value, pot's `export _POT_*`. */
const ENV_LINE = /^export /

/**
 * The first line pot's _js_start writes to tinirc (share/pot/start.sh at 5ef4db1, test/fixtures/pot-start.sh),
 * only for a pot without rc scripts: no other file in the jail begins so and is root's.
 */
export const TINIRC_HEADER = '# created automatically by pot, changes will be overwritten\n'

export interface Scrubbed {
  /** Environment lines removed; 0 when there were none, or no file, or it was left alone. */
  removed: number
  /** Why the file at the path was left alone (not pot's tinirc), for a warning; never its content. */
  leftAlone?: string
}

/**
 * Removes the environment lines from pot's tinirc (idempotent: a second call finds none and writes
 * nothing) and leaves the file 0700, root. /tmp is world-writable, so whatever is at the path is some jail
 * user's until proven pot's: a symbolic link is not followed, and only a regular file owned by root with one
 * link (a hard link to another root file would have two) that begins with pot's header is rewritten.
 */
export function scrubTinirc(path: string): Scrubbed {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { removed: 0 }
    if (code === 'ELOOP') return { removed: 0, leftAlone: 'is a symbolic link' }
    // EISDIR, ETXTBSY (a hard link to a running program)...: not pot's tinirc, and no reason to stop the jail.
    return { removed: 0, leftAlone: `cannot be opened for writing (${code ?? (e as Error).message})` }
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return { removed: 0, leftAlone: 'is not a regular file' }
    if (st.uid !== 0) return { removed: 0, leftAlone: `is owned by uid ${st.uid}, not root` }
    if (st.nlink !== 1) return { removed: 0, leftAlone: `has ${st.nlink} hard links` }
    const text = readFileSync(fd, 'utf8')
    if (!text.startsWith(TINIRC_HEADER))
      return { removed: 0, leftAlone: "does not begin with pot's tinirc header" }
    const lines = text.split('\n')
    const kept = lines.filter((l) => !ENV_LINE.test(l))
    const removed = lines.length - kept.length
    if (removed === 0) return { removed: 0 }
    const at = kept.findIndex((l) => l.startsWith('exec '))
    const note = `# cook removed ${removed} environment line(s) that pot's start.sh wrote here (they may hold secrets)`
    kept.splice(at < 0 ? kept.length : at, 0, note)
    ftruncateSync(fd, 0)
    writeSync(fd, kept.join('\n'), 0)
    if (process.geteuid?.() === 0) fchownSync(fd, 0, 0)
    fchmodSync(fd, 0o700)
    return { removed }
  } finally {
    closeSync(fd)
  }
}
