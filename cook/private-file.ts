// Files that hold secrets for the cook (parameter files, the Consul agent's token for `consul leave`) are
// trusted only when nobody but root can read or change them: a regular file owned by root (or by the
// user the cook runs as, which in the jail is root) with no permission for group or others.
import { closeSync, fstatSync, openSync, readFileSync, constants, type Stats } from 'node:fs'

/** Why a file with these stats is not private, or undefined when it is. */
export function notPrivate(st: Stats, euid = process.geteuid?.() ?? 0): string | undefined {
  if (!st.isFile()) return 'is not a regular file'
  if (st.uid !== 0 && st.uid !== euid) return `is owned by uid ${st.uid}, not root`
  const mode = st.mode & 0o777
  if ((mode & 0o077) !== 0)
    return `has mode ${mode.toString(8).padStart(4, '0')}: group or others may read or change it; want 0600 (chmod 600)`
  return undefined
}

/** Why the file is not private, or undefined; `missing` when it does not exist. Follows no symlink. */
export function checkPrivateFile(path: string): string | 'missing' | undefined {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return 'missing'
    if (code === 'ELOOP') return 'is a symbolic link'
    return `cannot be opened: ${(e as Error).message}`
  }
  try {
    return notPrivate(fstatSync(fd))
  } finally {
    closeSync(fd)
  }
}

/**
 * The text of a file, with why it is not private (undefined when it is), read through one descriptor so
 * that what is checked is what is read. Throws what open throws (ENOENT...).
 */
export function readChecked(path: string): { text: string; why: string | undefined } {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') return { text: '', why: 'is a symbolic link' }
    throw e
  }
  try {
    const why = notPrivate(fstatSync(fd))
    return { text: why === 'is not a regular file' ? '' : readFileSync(fd, 'utf8'), why }
  } finally {
    closeSync(fd)
  }
}
