// The jail's log rotation, /usr/local/etc/newsyslog.conf.d/cook.conf: read back line by line by the rules of
// FreeBSD's newsyslog.conf(5) (no newsyslog on Debian), and each entry checked against what writes the log:
// cook.log needs no signal because the cook reopens it for every line; patroni.out is held open by Patroni
// and the postmaster, which nothing makes reopen it, so it gets no signal and no compression.
import { readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { JAIL_LAYOUT, PATHS } from '../../cook/layout.js'
import { StepLog } from '../../cook/log.js'
import { NEWSYSLOG_CONF } from '../../cook/newsyslog.js'
import { validate } from '../../cook/params.js'
import { plan, type Plan } from '../../cook/plan.js'
import { basicEnv, tempDir } from '../helpers.js'

interface Entry {
  log: string
  owner?: string
  group?: string
  mode: number
  count: number
  sizeKb: number | '*'
  when: string
  flags: string
  pidFile?: string
  signal?: number
}

/** newsyslog.conf(5): five mandatory fields and four optional ones, `#` starts a comment. */
function parseNewsyslog(text: string): Entry[] {
  const entries: Entry[] = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/(^|[^\\])#.*$/, '$1').trim()
    if (line === '') continue
    const where = `line ${i + 1}: ${raw}`
    const f = line.split(/\s+/)
    const log = f.shift() ?? ''
    if (!log.startsWith('/')) throw new Error(`${where}: the log file is not an absolute path`)
    let owner: string | undefined
    let group: string | undefined
    // The optional owner:group field is told apart by its colon.
    if (f[0]?.includes(':')) [owner, group] = (f.shift() ?? '').split(':')
    if (f.length < 4) throw new Error(`${where}: mode, count, size and when are mandatory`)
    const [mode = '', count = '', size = '', when = '', flags = '-', pidFile, signal, ...rest] = f
    if (rest.length > 0) throw new Error(`${where}: more than nine fields`)
    if (!/^[0-7]{3,4}$/.test(mode)) throw new Error(`${where}: mode ${mode} is not octal`)
    if (!/^\d+$/.test(count)) throw new Error(`${where}: count ${count} is not a number`)
    if (!/^(\d+|\*)$/.test(size)) throw new Error(`${where}: size ${size} is neither kilobytes nor *`)
    if (!/^(\*|\d*(@[0-9T]*)?|\$[DWM][0-9LlDd]*)$/.test(when) || when === '')
      throw new Error(`${where}: when ${when} is not *, hours, @time or $spec`)
    if (!/^(-|[BCDGJNpRTUXYZE]+)$/.test(flags)) throw new Error(`${where}: unknown flags ${flags}`)
    if (pidFile !== undefined && !pidFile.startsWith('/'))
      throw new Error(`${where}: a pid file must start with /`)
    if (signal !== undefined && !/^\d+$/.test(signal)) throw new Error(`${where}: signal ${signal}`)
    entries.push({
      log,
      ...(owner !== undefined ? { owner, group } : {}),
      mode: Number.parseInt(mode, 8),
      count: Number(count),
      sizeKb: size === '*' ? '*' : Number(size),
      when,
      flags,
      ...(pidFile !== undefined ? { pidFile } : {}),
      ...(signal !== undefined ? { signal: Number(signal) } : {}),
    })
  }
  return entries
}

const planFor = (over: Record<string, string> = {}) => plan(validate({ ...basicEnv(), ...over }))
const conf = (pl: Plan) => {
  const f = pl.files.find((x) => x.path === NEWSYSLOG_CONF)
  if (!f) throw new Error(`the plan has no ${NEWSYSLOG_CONF}`)
  return f
}
const entry = (entries: Entry[], log: string) => entries.find((e) => e.log === log)

t.test('the plan ships it where /etc/newsyslog.conf includes it, root-owned and readable', async (t) => {
  const f = conf(planFor())
  t.match(NEWSYSLOG_CONF, /^\/usr\/local\/etc\/newsyslog\.conf\.d\/[^/.][^/]*\.conf$/, 'a *.conf name')
  t.equal(f.owner, 'root')
  t.equal(f.mode, 0o644)
  t.ok(
    planFor().dirs.some((d) => d.path === '/usr/local/etc/newsyslog.conf.d'),
    'its directory is created',
  )
})

t.test('every line is one newsyslog.conf(5) accepts, and the parser refuses broken ones', async (t) => {
  const entries = parseNewsyslog(conf(planFor()).content)
  t.same(
    entries.map((e) => e.log),
    [PATHS.cookLog, PATHS.patroniOut, PATHS.nodeExporterOut, PATHS.pgExporterOut],
    "cook.log, patroni.out and the exporters' output; no pgBackRest logs without backups",
  )
  for (const e of entries) {
    t.ok(e.count >= 1 && e.sizeKb !== '*' && e.sizeKb > 0, `${e.log}: rotated by size, archives kept`)
    if (e.log === PATHS.patroniOut) t.notMatch(e.flags, /[JZXY]/, `${e.log}: archives not compressed`)
    else t.match(e.flags, /J/, `${e.log}: archives compressed`)
  }
  t.throws(() => parseNewsyslog('/var/log/x 64O 7 100 * J'), /not octal/)
  t.throws(() => parseNewsyslog('/var/log/x root:wheel 640 7 100'), /mandatory/)
  t.throws(() => parseNewsyslog('/var/log/x 640 7 100 * Q'), /unknown flags/)
  t.throws(() => parseNewsyslog('/var/log/x 640 7 100 * J var/run/x.pid'), /must start with \//)
})

t.test('cook.log: no signal (N), since the cook opens the file for every line', async (t) => {
  const e = entry(parseNewsyslog(conf(planFor()).content), PATHS.cookLog)
  t.match(e?.flags, /N/)
  t.equal(e?.pidFile, undefined)
  t.same([e?.owner, e?.group, e?.mode], ['root', 'wheel', 0o640], 'as the cook creates it')
  // What newsyslog does: rename the log away. The next line must land in a new file, not the archive.
  const dir = tempDir(t)
  const file = join(dir, 'cook.log')
  const log = new StepLog({ file, out: () => {} })
  log.next('before the rotation')
  renameSync(file, `${file}.0`)
  log.next('after the rotation')
  t.match(readFileSync(`${file}.0`, 'utf8'), /Step 1: before/)
  t.notMatch(readFileSync(`${file}.0`, 'utf8'), /after/)
  t.match(readFileSync(file, 'utf8'), /Step 2: after the rotation/)
})

t.test('patroni.out: no signal and no compression; nothing of daemon(8) holds it', async (t) => {
  const pl = planFor()
  const e = entry(parseNewsyslog(conf(pl).content), PATHS.patroniOut)
  t.match(e?.flags, /N/, 'no process can be made to reopen it: none is signalled')
  t.equal(e?.pidFile, undefined)
  t.notMatch(e?.flags, /[JZXY]/, 'Patroni writes on into the renamed file: compressing it would delete it')
  t.same([e?.owner, e?.group, e?.mode], [JAIL_LAYOUT.pgUser, JAIL_LAYOUT.pgUser, 0o640], 'postgres writes it')
  const rc = pl.files.find((f) => f.path === PATHS.rcPatroni)?.content ?? ''
  t.match(rc, /^output_file=['"]?\/var\/log\/patroni\/patroni\.out['"]?$/m, "the rc.d script's output_file")
  t.notMatch(rc, /daemon [^\n]*-[oH] /, 'daemon(8) neither writes nor reopens it')
  t.equal(PATHS.patroniOut.startsWith(`${PATHS.patroniLogDir}/`), true, "in Patroni's own log folder")
})

t.test('pgBackRest logs rotate with backups on, and stay writable by postgres', async (t) => {
  const entries = parseNewsyslog(
    conf(planFor({ BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'k'.repeat(40) })).content,
  )
  const e = entries.find((x) => x.log.startsWith('/var/log/pgbackrest/'))
  t.ok(e, 'an entry for /var/log/pgbackrest')
  t.match(e?.flags, /G/, 'a glob: one file per stanza and command')
  t.match(e?.flags, /N/, 'pgBackRest opens its log at every command')
  t.same([e?.owner, e?.group], [JAIL_LAYOUT.pgUser, JAIL_LAYOUT.pgUser])
})
