// What pot's start script leaves in the jail that holds the task's environment, secrets included
// (bsdpot/pot share/pot/start.sh at 5ef4db1, _js_env and _js_norc):
// - no-rc-script (Nomad's `pot prepare`): the pot.env lines, as `export "NAME=value"`, are appended to
//   /tmp/tinirc, which ends with `exec <pot.cmd>` and gets `chmod a+x`: mode 0755, every jail user reads it;
// - rc scripts: the same lines are copied to /tmp/environment.sh (mktemp's 0600, root), which cook reads.
// tinirc has done its work once cook runs: sh reads it up to `exec`, which replaces sh by cook, and pot
// writes a new one at the next start. So cook rewrites it in place without those lines. In place: the
// file keeps its name in the world-writable /tmp, so no jail user can take the name before pot's next
// write. environment.sh stays: it is root's alone (cook checks that before it reads it), and `cook check`,
// `cook render --dry-run` and a re-run read it.
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
 * Removes the environment lines from pot's tinirc (idempotent: a second call finds none and writes
 * nothing) and leaves the file 0700, root. Returns how many lines it removed; 0 when there is no file.
 */
export function scrubTinirc(path: string): number {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ELOOP') return 0
    throw e
  }
  try {
    if (!fstatSync(fd).isFile()) return 0
    const lines = readFileSync(fd, 'utf8').split('\n')
    const kept = lines.filter((l) => !ENV_LINE.test(l))
    const removed = lines.length - kept.length
    if (removed === 0) return 0
    const at = kept.findIndex((l) => l.startsWith('exec '))
    const note = `# cook removed ${removed} environment line(s) that pot's start.sh wrote here (they may hold secrets)`
    kept.splice(at < 0 ? kept.length : at, 0, note)
    ftruncateSync(fd, 0)
    writeSync(fd, kept.join('\n'), 0)
    if (process.geteuid?.() === 0) fchownSync(fd, 0, 0)
    fchmodSync(fd, 0o700)
    return removed
  } finally {
    closeSync(fd)
  }
}
