// pot's /tmp/tinirc is scrubbed of the environment lines pot wrote there (issue #25.3), and only pot's: /tmp is
// world-writable, so a jail user may put a link to a root file (a program, a script) at that name. The
// header pot writes is read from the stand-in of pot's start.sh (test/fixtures/pot-start.sh, bsdpot/pot
// 5ef4db1, copied verbatim), not written here.
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { scrubTinirc, TINIRC_HEADER } from '../../cook/pot-leftovers.js'
import { tempDir } from '../helpers.js'

const fixture = readFileSync(new URL('../fixtures/pot-start.sh', import.meta.url), 'utf8')
/** The tinirc header as pot's _js_start writes it: its `cat <<-EOT` here-document, leading tabs stripped. */
const potHeader = /<<-EOT\n([\s\S]*?)\n\t*EOT\n/
  .exec(fixture)?.[1]
  ?.split('\n')
  .map((l) => l.replace(/^\t+/, ''))
  .join('\n')
  .replaceAll('\\$', '$')
const tinirc = `${potHeader}\nexport "KEKPASS=secret-1"\nexport _POT_NAME=pg1\nexec /usr/local/bin/cook\n`

t.test("cook's header is the one pot writes", async (t) => {
  t.ok(potHeader?.startsWith(TINIRC_HEADER))
})

t.test("pot's tinirc: environment lines removed, root 0700, idempotent", async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'tinirc')
  writeFileSync(path, tinirc, { mode: 0o755 })
  t.same(scrubTinirc(path), { removed: 2 })
  const text = readFileSync(path, 'utf8')
  t.notMatch(text, /secret-1|_POT_NAME/)
  t.ok(text.startsWith(TINIRC_HEADER))
  t.equal(lstatSync(path).mode & 0o777, 0o700)
  t.same(scrubTinirc(path), { removed: 0 }, 'a second run changes nothing')
})

t.test('whatever else a jail user put at /tmp/tinirc is left alone', async (t) => {
  const dir = tempDir(t)
  const program = join(dir, 'cook-pgbackrest-push')
  const script = '#!/bin/sh\nexport PGBACKREST_REPO1_CIPHER_PASS\nexec pgbackrest "$@"\n'
  writeFileSync(program, script, { mode: 0o755 })
  const cases: [string, string, RegExp][] = []
  linkSync(program, join(dir, 'hardlink'))
  cases.push([join(dir, 'hardlink'), 'a hard link to a root program', /not pot's tinirc header|2 hard links/])
  const potLike = join(dir, 'pot-like')
  writeFileSync(potLike, tinirc, { mode: 0o755 })
  linkSync(potLike, join(dir, 'hardlink-pot-like'))
  cases.push([join(dir, 'hardlink-pot-like'), "a hard link to a root file with pot's header", /2 hard links/])
  const nobodys = join(dir, 'nobodys')
  writeFileSync(nobodys, tinirc, { mode: 0o755 })
  chownSync(nobodys, 65534, 65534)
  cases.push([nobodys, "nobody's file with pot's header", /owned by uid 65534/])
  const other = join(dir, 'root-script')
  writeFileSync(other, script, { mode: 0o755 })
  cases.push([other, "a root file without pot's header", /pot's tinirc header/])
  symlinkSync(program, join(dir, 'symlink'))
  cases.push([join(dir, 'symlink'), 'a symbolic link', /symbolic link/])
  spawnSync('mkfifo', [join(dir, 'fifo')])
  cases.push([join(dir, 'fifo'), 'a FIFO', /not a regular file/])
  mkdirSync(join(dir, 'a-directory'))
  cases.push([join(dir, 'a-directory'), 'a directory', /cannot be opened|not a regular file/])
  const before = (p: string) => {
    const st = lstatSync(p)
    return { mode: st.mode, uid: st.uid, text: st.isFile() ? readFileSync(p, 'utf8') : '' }
  }
  for (const [path, what, why] of cases) {
    const was = before(path)
    const r = scrubTinirc(path)
    t.equal(r.removed, 0, `${what}: nothing removed`)
    t.match(r.leftAlone, why, `${what}: says why`)
    t.same(before(path), was, `${what}: unchanged`)
  }
  t.equal(readFileSync(program, 'utf8'), script, 'the program keeps its export line')
  t.equal(lstatSync(program).mode & 0o777, 0o755, 'and its mode')
  chmodSync(program, 0o755)
})
