// The jail's log rotation, /usr/local/etc/newsyslog.conf.d/cook.conf: read back line by line by the rules of
// FreeBSD's newsyslog.conf(5) (no newsyslog on Debian), and each entry checked against what writes the log:
// cook.log needs no signal because the cook reopens it for every line; patroni.out is held open by Patroni
// and the postmaster, which nothing makes reopen it, so it gets no signal and no compression.
import { readFileSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { JAIL_LAYOUT, PATHS } from '../../cook/layout.js'
import { StepLog } from '../../cook/log.js'
import { NEWSYSLOG_CONF, NEWSYSLOG_CRON, userNewsyslogConf } from '../../cook/newsyslog.js'
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
const conf = (pl: Plan, path = NEWSYSLOG_CONF) => {
  const f = pl.files.find((x) => x.path === path)
  if (!f) throw new Error(`the plan has no ${path}`)
  return f
}
const pgConf = (pl: Plan) => conf(pl, userNewsyslogConf(JAIL_LAYOUT.pgUser))
const backupsOn = { BACKUPREPO: '/mnt/backups', BACKUPCIPHERPASS: 'k'.repeat(40) }
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
    [PATHS.cookLog, PATHS.pgExporterOut],
    "root's: cook.log and postgres_exporter's output, both root's files in root's /var/log",
  )
  const pl = planFor()
  t.same(
    parseNewsyslog(pgConf(pl).content).map((e) => e.log),
    [PATHS.patroniOut],
    "postgres's: patroni.out; no pgBackRest logs without backups",
  )
  entries.push(...parseNewsyslog(pgConf(pl).content))
  entries.push(...parseNewsyslog(conf(pl, userNewsyslogConf(JAIL_LAYOUT.nodeExporterUser)).content))
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
  const e = entry(parseNewsyslog(pgConf(pl).content), PATHS.patroniOut)
  t.match(e?.flags, /N/, 'no process can be made to reopen it: none is signalled')
  t.equal(e?.pidFile, undefined)
  t.notMatch(e?.flags, /[JZXY]/, 'Patroni writes on into the renamed file: compressing it would delete it')
  t.same([e?.owner, e?.group, e?.mode], [undefined, undefined, 0o640], "postgres's newsyslog creates it")
  const rc = pl.files.find((f) => f.path === PATHS.rcPatroni)?.content ?? ''
  t.match(rc, /^output_file=['"]?\/var\/log\/patroni\/patroni\.out['"]?$/m, "the rc.d script's output_file")
  t.notMatch(rc, /daemon [^\n]*-[oH] /, 'daemon(8) neither writes nor reopens it')
  t.equal(PATHS.patroniOut.startsWith(`${PATHS.patroniLogDir}/`), true, "in Patroni's own log folder")
})

t.test('pgBackRest logs rotate with backups on, and stay writable by postgres', async (t) => {
  const entries = parseNewsyslog(pgConf(planFor(backupsOn)).content)
  const e = entries.find((x) => x.log.startsWith('/var/log/pgbackrest/'))
  t.ok(e, 'an entry for /var/log/pgbackrest')
  t.match(e?.flags, /G/, 'a glob: one file per stanza and command')
  t.match(e?.flags, /N/, 'pgBackRest opens its log at every command')
  t.same([e?.owner, e?.group], [undefined, undefined], "postgres's newsyslog creates them as postgres")
})

// FreeBSD's etc/mtree/BSD.var.dist (releng/14.2): /var/log and /var/run are root:wheel 0755. The plan does
// not create them.
const BASE_DIRS = new Map([
  ['/var/log', { owner: 'root', mode: 0o755 }],
  ['/var/run', { owner: 'root', mode: 0o755 }],
])

/** `user ...` lines of a cron.d file: minute hour mday month wday user command. */
function cronLines(text: string) {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const f = l.trim().split(/\s+/)
      return { when: f.slice(0, 5).join(' '), user: f[5] ?? '', command: f.slice(6) }
    })
}

t.test('root never rotates in, nor signals a pid from, a directory another user can write', async (t) => {
  // newsyslog as root renames, chmods, chowns and opens logs by path and kill()s the pid it reads
  // (newsyslog.c do_rotate, change_attrs, log_trim, sigpid): a symlink planted by postgres or nodeexport
  // (patroni.out.0 -> /etc/rc.conf) or a pid they wrote would make root act for them.
  const pl = planFor(backupsOn)
  const dirOf = (path: string) => {
    const d = dirname(path)
    return pl.dirs.find((x) => x.path === d) ?? BASE_DIRS.get(d)
  }
  const rootEntries = parseNewsyslog(conf(pl).content)
  for (const e of rootEntries) {
    for (const path of [e.log, ...(e.pidFile !== undefined ? [e.pidFile] : [])]) {
      const d = dirOf(path)
      t.ok(d, `${path}: its directory is known`)
      t.equal(d?.owner, 'root', `${path}: in a root-owned directory`)
      t.equal((d?.mode ?? 0o777) & 0o022, 0, `${path}: in a directory neither group nor others can write`)
    }
  }
  // The logs in the users' directories rotate by newsyslog run as that user, from a root-owned cron.d file.
  const cron = conf(pl, NEWSYSLOG_CRON)
  t.same([cron.owner, cron.mode], ['root', 0o644], 'cron ignores cron.d files others own or can write')
  const lines = cronLines(cron.content)
  const users = [JAIL_LAYOUT.pgUser, JAIL_LAYOUT.nodeExporterUser]
  t.same(
    lines.map((l) => l.user),
    users,
    'one line per user',
  )
  const rotated: string[] = []
  for (const l of lines) {
    const file = userNewsyslogConf(l.user)
    t.equal(l.when, '0 * * * *', `${l.user}: hourly, as /etc/crontab runs root's`)
    t.same(l.command, ['/usr/sbin/newsyslog', '-r', '-f', file], `${l.user}: newsyslog -r on its own file`)
    t.notOk(file.startsWith(`${dirname(NEWSYSLOG_CONF)}/`), `${file}: not in what root's newsyslog includes`)
    const f = conf(pl, file)
    t.same([f.owner, f.mode], ['root', 0o644], `${file}: the user cannot change what it rotates`)
    for (const e of parseNewsyslog(f.content)) {
      rotated.push(e.log)
      t.equal(e.owner, undefined, `${e.log}: no chown; the new file belongs to ${l.user}`)
      for (const path of [e.log, ...(e.pidFile !== undefined ? [e.pidFile] : [])])
        t.equal(dirOf(path)?.owner, l.user, `${path}: in ${l.user}'s own directory`)
    }
  }
  t.same(
    rotated,
    [PATHS.patroniOut, '/var/log/pgbackrest/*.log', PATHS.nodeExporterOut],
    'every log of those directories is rotated by its user',
  )
})
