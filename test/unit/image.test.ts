// The jail image: pot flavour files, the in-jail build script, and the builder (npm run image).
// There is no pot or FreeBSD here: pot, pkg, sysrc and pw are recording stand-ins on PATH
// (test/fixtures/bin/pot, test/fixtures/jail-bin/*), named as such; everything else is real.
import t, { type Test } from 'tap'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { machine } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import {
  checkOptions,
  DEFAULT_FREEBSD,
  freebsdReleaseProblem,
  exportFiles,
  FLAVOUR_COMMANDS,
  freebsdArch,
  lintFlavour,
  potName,
  versionAtLeast,
  PATRONI_PIP,
} from '../../scripts/image-plan.js'
import { tempDir } from '../helpers.js'

t.setTimeout(300_000)

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const IMAGE = join(ROOT, 'jail-image')
const POT_STANDIN_BIN = join(ROOT, 'test/fixtures/bin')
const JAIL_STANDIN_BIN = join(ROOT, 'test/fixtures/jail-bin')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const POT = potName({ arch: freebsdArch(machine()), freebsd: DEFAULT_FREEBSD })

/** Runs the builder as `npm run image` does, in a child process. */
async function image(args: string[], env: Record<string, string> = {}, user?: string) {
  const argv = ['scripts/run-ts.mjs', 'scripts/image.ts', ...args]
  const [file, fileArgs] = user
    ? [
        'setpriv',
        ['--reuid', user, '--regid', user === 'nobody' ? 'nogroup' : user, '--clear-groups', 'node', ...argv],
      ]
    : ['node', argv]
  return execa(file, fileArgs as string[], { cwd: ROOT, env, reject: false, all: true })
}

/** A temp dir with the pot stand-in's log and state, a flavour directory and an output directory. */
function potBench(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t, 'image-test-')
  const bench = {
    dir,
    log: join(dir, 'pot.log'),
    state: join(dir, 'state'),
    flavours: join(dir, 'flavours'),
    out: join(dir, 'out'),
  }
  mkdirSync(bench.state)
  return {
    ...bench,
    env: (extra: Record<string, string> = {}) => ({
      PATH: `${POT_STANDIN_BIN}:${process.env.PATH}`,
      POT_STANDIN_LOG: bench.log,
      POT_STANDIN_STATE: bench.state,
      ...extra,
    }),
    args: (...extra: string[]) => ['--flavour-dir', bench.flavours, '--out', bench.out, ...extra],
    calls: () =>
      existsSync(bench.log)
        ? readFileSync(bench.log, 'utf8')
            .trimEnd()
            .split('\n')
            .map((l) => l.slice(l.indexOf('|') + 1))
        : [],
    cwds: () =>
      readFileSync(bench.log, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => l.slice(0, l.indexOf('|'))),
  }
}

t.test('pot names, architectures and export files', async (t) => {
  t.equal(freebsdArch('x86_64'), 'amd64')
  t.equal(freebsdArch('amd64'), 'amd64')
  t.equal(freebsdArch('aarch64'), 'arm64')
  t.equal(freebsdArch('arm64'), 'arm64')
  t.equal(potName({ arch: 'amd64', freebsd: '15.1' }), 'patroni-postgresql-amd64-15_1')
  t.equal(potName({ arch: 'arm64', freebsd: '14.4' }), 'patroni-postgresql-arm64-14_4')
  t.same(exportFiles('p', '1.2.3'), ['p_1.2.3.xz', 'p_1.2.3.xz.meta', 'p_1.2.3.xz.skein'])
  t.ok(versionAtLeast('0.16.0', '0.16.0'))
  t.ok(versionAtLeast('0.16.1', '0.16.0'))
  t.ok(versionAtLeast('1.0.0', '0.16.0'))
  t.notOk(versionAtLeast('0.15.6', '0.16.0'))
  t.notOk(versionAtLeast('0.9.2', '0.16.0'))
  t.notOk(versionAtLeast('', '0.16.0'))
  t.equal(
    DEFAULT_FREEBSD,
    '15.1',
    'the default names a supported release (README, "Supported FreeBSD releases")',
  )
  t.same(checkOptions({ freebsd: '14.3', pg: 16, version: '0.1.0' }), [])
  const bad = checkOptions({ freebsd: '14', pg: 9, version: '1' })
  t.same(
    bad.map((p) => p.split(':')[0]),
    ['--freebsd', '--pg', 'package.json version "1" is not x.y.z'],
  )
})

t.test('the flavour files hold only sub-commands pot accepts, in a form pot parses', async (t) => {
  // FLAVOUR_COMMANDS is _is_cmd_flavorable's list from bsdpot/pot share/pot/common-flv.sh.
  t.same([...FLAVOUR_COMMANDS].sort(), [
    'add-dep',
    'copy-in',
    'copy-in-flv',
    'export-ports',
    'mount-in',
    'set-attribute',
    'set-cmd',
    'set-env',
    'set-rss',
  ])
  for (const name of ['patroni-postgresql', 'patroni-postgresql+4']) {
    const text = readFileSync(join(IMAGE, name), 'utf8')
    t.same(lintFlavour(name, text), [], name)
    // copy-in-flv sources are relative to the flavour directory; what is not staged must be in jail-image/.
    for (const m of text.matchAll(/^copy-in-flv (?:-c )?-s (\S+) -d (\S+)$/gm)) {
      t.ok(existsSync(join(IMAGE, m[1]!)), `${name}: ${m[1]} exists`)
      t.match(m[2], /^\//, `${name}: destination ${m[2]} is absolute`)
    }
  }
  const main = readFileSync(join(IMAGE, 'patroni-postgresql'), 'utf8')
  t.match(main, /^copy-in-flv -s patroni-postgresql\.d -d \/root\/\.cook-image$/m)
  t.match(main, /^set-attribute -A exec_stop -V \/usr\/local\/bin\/cook-stop$/m)
  // pot runs the command file before the flavour script, and a failed create undoes itself with
  // `pot stop`, which runs exec.stop: the stop command must be in the jail before it is named.
  const lines = main.split('\n')
  const named = lines.findIndex((l) => l.startsWith('set-attribute -A exec_stop -V '))
  const program = lines[named]!.split(' ')[4]!
  const copied = lines.findIndex((l) => new RegExp(`^copy-in-flv -c -s \\S+ -d ${program}$`).test(l))
  t.ok(copied >= 0 && copied < named, `${program} is copied in (with -c) before exec_stop names it`)
  const timeout = /^set-attribute -A stop_timeout -V (\d+)$/m.exec(main)?.[1]
  t.ok(Number(timeout) > 10, `stop_timeout ${timeout} is longer than the jail default of 10 s`)
  const nomad = readFileSync(join(IMAGE, 'patroni-postgresql+4'), 'utf8')
  t.match(nomad, /^set-cmd -c "\/usr\/local\/bin\/cook"$/m)
  t.match(nomad, /^copy-in-flv -c -s patroni-postgresql\+4\.d\/cook -d \/etc\/rc\.conf\.d\/cook$/m)
})

t.test('the flavour lint catches what pot would skip or misparse', async (t) => {
  const lint = (line: string) => lintFlavour('f', `${line}\n`)
  t.match(lint('set-attribute -A exec_stop -V "/usr/local/bin/cook stop"'), [/quotes are not removed/])
  t.match(lint('# a comment'), [/not a sub-command pot accepts/])
  t.match(lint(''), [/not a sub-command pot accepts/])
  t.match(lint('set-attribut -A stop_timeout -V 30'), [/not a sub-command pot accepts/])
  t.match(lint('set-cmd /usr/local/bin/cook'), [/set-cmd -c "..."/])
  t.match(lint('copy-in -s /a -d /b -p mypot'), [/-p is added by pot/])
  t.match(lint('set-attribute -A exec_stop'), [/-A NAME -V VALUE/])
  t.match(lintFlavour('f', 'copy-in -s /a -d /b'), [/no newline/])
  t.same(lint('set-cmd -c "nginx -g daemon"'), [])
})

t.test('the manifest names the pot and carries the package version', async (t) => {
  const ini = readFileSync(join(IMAGE, 'patroni-postgresql.ini'), 'utf8')
  t.match(ini, /^\[manifest\]$/m)
  t.match(ini, /^potname="patroni-postgresql"$/m)
  t.match(ini, /^runs_in_nomad="(true|false)"$/m)
  t.equal(/^version="([^"]*)"$/m.exec(ini)?.[1], VERSION)
})

t.test('every shell file passes shellcheck -s sh', async (t) => {
  const isShell = (path: string) => /^(#!\/bin\/sh|# shellcheck shell=sh)/.test(readFileSync(path, 'utf8'))
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
    )
  const files = [
    ...walk(IMAGE).filter(isShell),
    join(ROOT, 'scripts/install-deps'),
    ...walk(POT_STANDIN_BIN),
    ...walk(JAIL_STANDIN_BIN),
  ]
  const rel = files.map((f) => f.slice(ROOT.length))
  for (const expected of [
    'jail-image/patroni-postgresql.sh',
    'jail-image/patroni-postgresql.d/rc.d/cook',
    'jail-image/patroni-postgresql.d/bin/cook',
    'jail-image/patroni-postgresql.d/bin/cook-stop',
    'jail-image/patroni-postgresql+4.d/cook',
  ])
    t.ok(rel.includes(expected), `${expected} is checked`)
  const r = await execa('shellcheck', ['-s', 'sh', ...files], { reject: false, all: true })
  t.equal(r.exitCode, 0, r.all)
})

t.test('the package list has exactly one PostgreSQL major and nothing to build software with', async (t) => {
  const script = readFileSync(join(IMAGE, 'patroni-postgresql.sh'), 'utf8')
  const list = /^PACKAGES="([^"]*)"$/m.exec(script)?.[1]?.split(/\s+/).filter(Boolean) ?? []
  const postgres = list.filter((p) => /^postgresql/.test(p))
  t.same(postgres, [
    'postgresql${PG_MAJOR}-server',
    'postgresql${PG_MAJOR}-client',
    'postgresql${PG_MAJOR}-contrib',
  ])
  for (const p of [
    '${PY_FLAVOR}-psycopg2',
    '$PATRONI_PACKAGES',
    '${PY_FLAVOR}-python-consul2',
    '${PY_FLAVOR}-python-etcd',
    'consul',
    'node_exporter',
    'postgres_exporter',
    'pgbackrest',
    'curl',
    'jq',
  ])
    t.ok(list.includes(p), p)
  t.ok(
    list.some((p) => /^node(\d+)$/.test(p) && Number(p.slice(4)) >= 22),
    'node22 or newer',
  )
  const builders = /^(gcc|clang|llvm|git|go|gmake|cmake|autoconf|automake|pkgconf|rust|npm|yarn|.*-pip)/
  t.same(
    list.filter((p) => builders.test(p)),
    [],
  )
  // The major is chosen in one place (build.conf from --pg): no file of the image names one itself.
  for (const file of [
    'patroni-postgresql',
    'patroni-postgresql+4',
    'patroni-postgresql.sh',
    'patroni-postgresql.d/rc.d/cook',
  ])
    t.notMatch(readFileSync(join(IMAGE, file), 'utf8'), /postgresql\d/, file)
})

t.test('--dry-run prints every command, one per line, and needs neither pot nor root', async (t) => {
  const bench = potBench(t)
  const r = await image(['--dry-run', ...bench.args()], { PATH: '/usr/bin:/bin' })
  t.equal(r.exitCode, 0, r.all)
  const lines = r.stdout.split('\n')
  const potLines = lines.filter((l) => / pot |^pot /.test(l))
  t.same(potLines, [
    `cd ${bench.flavours} && pot create -b ${DEFAULT_FREEBSD} -p ${POT} -t single -N public-bridge -f fbsd-update -f patroni-postgresql`,
    `pot snapshot -p ${POT}`,
    `pot export -c -l 0 -p ${POT} -t ${VERSION} -D ${bench.out}`,
  ])
  t.ok(lines.indexOf(potLines[0]!) > lines.findIndex((l) => l.includes('build.conf')), 'staged before create')
  t.match(r.stdout, `cp -R ${ROOT}templates ${bench.flavours}/patroni-postgresql.d/cook/templates`)
  t.match(r.stdout, /'PG_MAJOR=auto'/, 'the major of the repository unless --pg says otherwise')
  t.notOk(existsSync(bench.flavours), 'a dry run writes nothing')
  chmodSync(bench.dir, 0o755)

  const nomad = await image(
    ['--dry-run', '--nomad', '--pg', '15', '--freebsd', '14.3', ...bench.args()],
    { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
    'nobody',
  )
  t.equal(nomad.exitCode, 0, nomad.all)
  t.match(nomad.stdout, /-f fbsd-update -f patroni-postgresql -f patroni-postgresql\+4\n/)
  t.match(nomad.stdout, /-p patroni-postgresql-\w+-14_3 /)
  t.match(nomad.stdout, /'PG_MAJOR=15'/)
})

t.test('the builder issues the pot commands in order and checks and reports the image', async (t) => {
  const bench = potBench(t)
  const r = await image(bench.args(), bench.env())
  t.equal(r.exitCode, 0, r.all)
  t.same(bench.calls(), [
    'version -q',
    `info -q -p ${POT}`,
    `create -b ${DEFAULT_FREEBSD} -p ${POT} -t single -N public-bridge -f fbsd-update -f patroni-postgresql`,
    `snapshot -p ${POT}`,
    `export -c -l 0 -p ${POT} -t ${VERSION} -D ${bench.out}`,
  ])
  t.equal(bench.cwds()[2], bench.flavours, 'pot create runs in the flavour directory')
  for (const f of exportFiles(POT, VERSION)) {
    t.ok(existsSync(join(bench.out, f)), f)
    t.match(r.stdout, new RegExp(`^  ${f.replace(/[.+]/g, '\\$&')} +\\d+ bytes$`, 'm'))
  }
  t.match(r.stdout, 'skein1024 checksum: 0123456789abcdef0123456789abcdef')
  t.match(r.stdout, `Image ${POT}, tag ${VERSION}`)

  // What pot create found in the flavour directory.
  const d = join(bench.flavours, 'patroni-postgresql.d')
  for (const f of [
    'patroni-postgresql',
    'patroni-postgresql.sh',
    'patroni-postgresql+4',
    'patroni-postgresql+4.d/cook',
  ])
    t.equal(readFileSync(join(bench.flavours, f), 'utf8'), readFileSync(join(IMAGE, f), 'utf8'), f)
  for (const f of [
    'cook/dist/cook.mjs',
    'cook/templates/patroni.yml.hbs',
    'rc.d/cook',
    'bin/cook',
    'bin/cook-stop',
  ])
    t.ok(existsSync(join(d, f)), f)
  t.match(
    readFileSync(join(d, 'build.conf'), 'utf8'),
    `PG_MAJOR=auto\nPY_FLAVOR=py311\nPATRONI_PIP=${PATRONI_PIP}\nIMAGE_VERSION=${VERSION}\n`,
  )
})

t.test('the Nomad variant adds the +4 flavour and passes its PostgreSQL major', async (t) => {
  const bench = potBench(t)
  const r = await image(bench.args('--nomad', '--pg', '17'), bench.env())
  t.equal(r.exitCode, 0, r.all)
  t.match(bench.calls()[2], / -f fbsd-update -f patroni-postgresql -f patroni-postgresql\+4$/)
  t.match(readFileSync(join(bench.flavours, 'patroni-postgresql.d/build.conf'), 'utf8'), 'PG_MAJOR=17\n')
})

t.test('a failing step destroys the half-built pot', async (t) => {
  const bench = potBench(t)
  const r = await image(bench.args(), bench.env({ POT_STANDIN_FAIL: 'snapshot' }))
  t.equal(r.exitCode, 1)
  t.match(r.stderr, `image: pot snapshot -p ${POT} failed: exit code 1`)
  t.same(bench.calls().slice(2), [
    `create -b ${DEFAULT_FREEBSD} -p ${POT} -t single -N public-bridge -f fbsd-update -f patroni-postgresql`,
    `snapshot -p ${POT}`,
    `info -q -p ${POT}`,
    `destroy -p ${POT} -F`,
  ])
  t.notOk(existsSync(join(bench.out, `${POT}_${VERSION}.xz`)), 'nothing exported')
})

t.test(
  'an export that "succeeds" without its .skein fails the build and leaves nothing half-done',
  async (t) => {
    const bench = potBench(t)
    const r = await image(bench.args(), bench.env({ POT_STANDIN_NO_SKEIN: '1' }))
    t.equal(r.exitCode, 1)
    t.match(r.stderr, /pot export reported success, but \S+\.xz\.skein is missing or empty/)
    t.same(bench.calls().slice(-2), [`info -q -p ${POT}`, `destroy -p ${POT} -F`])
    t.same(readdirSync(bench.out), [], 'the incomplete image is removed')
  },
)

t.test('the builder refuses where it cannot build, and names why', async (t) => {
  const bench = potBench(t)
  const noPot = await image(bench.args(), { PATH: '/usr/bin:/bin' })
  t.equal(noPot.exitCode, 1)
  t.match(noPot.stderr, 'image: pot is not installed (not on PATH)')

  const old = await image(bench.args(), bench.env({ POT_STANDIN_VERSION: '0.15.6' }))
  t.equal(old.exitCode, 1)
  t.match(old.stderr, 'pot 0.15.6 is too old')
  t.match(old.stderr, 'pot >= 0.16.0')

  writeFileSync(join(bench.state, POT), '')
  const exists = await image(bench.args(), bench.env())
  t.equal(exists.exitCode, 1)
  t.match(exists.stderr, `a pot named ${POT} exists already`)
  t.notOk(
    bench.calls().some((c) => /^(create|destroy)/.test(c)),
    'an existing pot is neither built over nor destroyed',
  )

  chmodSync(bench.dir, 0o755)
  const notRoot = await image(bench.args(), { ...bench.env(), HOME: '/nonexistent' }, 'nobody')
  t.equal(notRoot.exitCode, 1, notRoot.all)
  t.match(notRoot.stderr, 'pot needs root')

  const badOptions = await image(['--pg', '9.6', '--freebsd', '14', ...bench.args()], bench.env())
  t.equal(badOptions.exitCode, 78)
  t.match(
    badOptions.stderr,
    /--freebsd: want a release such as 15\.1[^]*--pg: want auto or a PostgreSQL major/,
  )
})

t.test('releases that cannot carry the image are refused, each with its reason', async (t) => {
  for (const ok of ['14.3', '14.4', '14.5', '15.0', '15.1', '15.2', '16.0'])
    t.equal(freebsdReleaseProblem(ok), undefined, `${ok} is accepted`)
  for (const eol of ['12.4', '13.0', '13.2', '13.5'])
    t.match(
      freebsdReleaseProblem(eol),
      /end-of-life \(stable\/13 ended on 2026-04-30\).*exits on SIGTERM/,
      eol,
    )
  for (const lossy of ['14.0', '14.1', '14.2'])
    t.match(
      freebsdReleaseProblem(lossy),
      /can lose a `service patroni stop`.*PR 277959, fixed in 14\.3/,
      lossy,
    )
  t.match(freebsdReleaseProblem('14'), /want a release such as 15\.1, got "14"/)

  // The builder says so before it touches anything, with the configuration error's exit status.
  const bench = potBench(t)
  const old = await image(['--dry-run', '--freebsd', '13.5', ...bench.args()], bench.env())
  t.equal(old.exitCode, 78, old.all)
  t.match(old.stderr, /--freebsd: FreeBSD 13\.5 is end-of-life/)
  t.same(bench.calls(), [], 'pot was not called')
  const lossy = await image(['--dry-run', '--freebsd', '14.2', ...bench.args()], bench.env())
  t.equal(lossy.exitCode, 78, lossy.all)
  t.match(lossy.stderr, /--freebsd: FreeBSD 14\.2's daemon\(8\) can lose/)
})

/** A jail-like root: the flavour staged by the builder and copied in as the flavour file's copy-in does. */
async function jailRoot(t: Test, pg = '16') {
  const dir = tempDir(t, 'jail-root-')
  const flavours = join(dir, 'flavours')
  const staged = await image(['--stage-only', '--flavour-dir', flavours, '--pg', pg])
  t.equal(staged.exitCode, 0, staged.all)
  const root = join(dir, 'root')
  mkdirSync(join(root, 'etc/pkg'), { recursive: true })
  writeFileSync(join(root, 'etc/pkg/FreeBSD.conf'), 'FreeBSD: { enabled: yes }\n')
  mkdirSync(join(root, 'var/cache/pkg'), { recursive: true })
  writeFileSync(join(root, 'var/cache/pkg/old.pkg'), 'cached')
  cpSync(join(flavours, 'patroni-postgresql.d'), join(root, 'root/.cook-image'), { recursive: true })
  return { root, flavours, log: join(dir, 'standin.log') }
}

async function buildScript(jail: { root: string; log: string }, env: Record<string, string> = {}) {
  return execa('sh', [join(IMAGE, 'patroni-postgresql.sh'), 'testpot'], {
    env: {
      PATH: `${JAIL_STANDIN_BIN}:${process.env.PATH}`,
      IMAGE_TEST_ROOT: jail.root,
      STANDIN_LOG: jail.log,
      ...env,
    },
    extendEnv: false,
    reject: false,
    all: true,
  })
}

t.test('the in-jail build script installs the packages, the cook and its service', async (t) => {
  const jail = await jailRoot(t)
  mkdirSync(join(jail.root, 'usr/local/etc/pkg/repos'), { recursive: true })
  writeFileSync(join(jail.root, 'usr/local/etc/pkg/repos/mine.conf'), 'mine: { url: "file:///x" }\n')
  const r = await buildScript(jail, { PKG_STANDIN_UNBOOTSTRAPPED: '1' })
  t.equal(r.exitCode, 0, r.all)
  const calls = readFileSync(jail.log, 'utf8').trimEnd().split('\n')
  const installs = calls.filter((c) => c.startsWith('pkg install')).map((c) => c.split(' ').pop())
  t.same(installs, [
    'postgresql16-server',
    'postgresql16-client',
    'postgresql16-contrib',
    'py311-psycopg2',
    'py311-patroni',
    'py311-python-consul2',
    'py311-python-etcd',
    'consul',
    'node_exporter',
    'postgres_exporter',
    'node22',
    'pgbackrest',
    'curl',
    'jq',
  ])
  t.same(calls.slice(0, 3), ['pkg -N', 'pkg bootstrap', 'pkg update -f'])
  t.ok(calls.includes('pw usershow postgres') && calls.includes('pw usershow consul'))
  t.ok(
    calls.some((c) => c.startsWith('pw useradd pgmonitor ')),
    "postgres_exporter's own user is created",
  )
  t.ok(
    calls.some((c) => c.startsWith('pw useradd nodeexport ')),
    "node_exporter's own user is created",
  )
  t.equal(calls.at(-1), 'pkg clean -a -y')
  t.match(r.stdout, 'pkg repository configuration: /etc/pkg/FreeBSD.conf /usr/local/etc/pkg/repos/mine.conf')
  t.equal(
    readFileSync(join(jail.root, 'usr/local/etc/pkg/repos/mine.conf'), 'utf8'),
    'mine: { url: "file:///x" }\n',
  )

  const mode = (p: string) => statSync(join(jail.root, p)).mode & 0o777
  t.equal(mode('usr/local/etc/rc.d/cook'), 0o555)
  t.equal(mode('usr/local/bin/cook'), 0o755)
  t.equal(mode('usr/local/bin/cook-stop'), 0o755)
  t.equal(mode('usr/local/share/cook/dist/cook.mjs'), 0o644)
  t.ok(
    existsSync(join(jail.root, 'usr/local/share/cook/templates/patroni.yml.hbs')),
    'templates beside dist/',
  )
  // The bundle carries its templates precompiled; the templates/ copy is for operators to read.
  const rendered = await execa('node', [join(jail.root, 'usr/local/share/cook/dist/cook.mjs'), '--version'])
  t.equal(rendered.stdout, VERSION)
  t.match(
    readFileSync(join(jail.root, 'usr/local/bin/cook'), 'utf8'),
    /^exec \/usr\/local\/bin\/node \/usr\/local\/share\/cook\/dist\/cook\.mjs "\$@"$/m,
  )

  t.equal(readFileSync(join(jail.root, 'etc/rc.conf.d/cook'), 'utf8'), 'cook_enable="YES"\n')
  const rcConf = readFileSync(join(jail.root, 'etc/rc.conf'), 'utf8')
  for (const v of [
    'sendmail_enable',
    'sendmail_submit_enable',
    'sendmail_outbound_enable',
    'sendmail_msp_queue_enable',
    'sshd_enable',
  ])
    t.match(rcConf, `${v}="NO"`)
  t.notOk(existsSync(join(jail.root, 'root/.cook-image')), 'the staging copy is removed')
  t.same(readdirSync(join(jail.root, 'var/cache/pkg')), [], 'the package cache is emptied')

  // The +4 flavour then copies its rc.conf.d/cook over this one; load_rc_config reads it after rc.conf.
  cpSync(join(IMAGE, 'patroni-postgresql+4.d/cook'), join(jail.root, 'etc/rc.conf.d/cook'))
  const nomad = await execa('sh', [
    '-c',
    `cook_enable=YES; . ${join(jail.root, 'etc/rc.conf')}; . ${join(jail.root, 'etc/rc.conf.d/cook')}; echo $cook_enable`,
  ])
  t.equal(nomad.stdout, 'NO')
})

t.test('the in-jail build script installs the major it is built for', async (t) => {
  const jail = await jailRoot(t, '15')
  const r = await buildScript(jail)
  t.equal(r.exitCode, 0, r.all)
  const installs = readFileSync(jail.log, 'utf8').match(/^pkg install -y postgresql\S+$/gm)
  t.same(installs, [
    'pkg install -y postgresql15-server',
    'pkg install -y postgresql15-client',
    'pkg install -y postgresql15-contrib',
  ])
})

t.test('with --pg auto the image takes the major the repository builds psycopg2 against', async (t) => {
  const jail = await jailRoot(t, 'auto')
  const r = await buildScript(jail, { PKG_STANDIN_REPO_PG: '17' })
  t.equal(r.exitCode, 0, r.all)
  t.match(r.stdout, 'PostgreSQL 17: the major py311-psycopg2 depends on in this repository')
  t.same(readFileSync(jail.log, 'utf8').match(/^pkg install -y postgresql\S+$/gm), [
    'pkg install -y postgresql17-server',
    'pkg install -y postgresql17-client',
    'pkg install -y postgresql17-contrib',
  ])
  t.match(readFileSync(join(jail.root, 'usr/local/share/cook/image.txt'), 'utf8'), /^postgresql: 17$/m)

  const unknown = await jailRoot(t, 'auto')
  const r2 = await buildScript(unknown, { PKG_STANDIN_REPO_PG: 'none' })
  t.equal(r2.exitCode, 1)
  t.match(
    r2.stderr,
    'cannot tell which PostgreSQL major py311-psycopg2 depends on in this repository: build with --pg N',
  )
})

t.test(
  'without a py311-patroni package Patroni comes from pip, pinned, over the packaged clients',
  async (t) => {
    const jail = await jailRoot(t, 'auto')
    const r = await buildScript(jail, { PKG_STANDIN_NO_PATRONI: '1' })
    t.equal(r.exitCode, 0, r.all)
    t.match(
      r.stdout,
      `Patroni: py311-patroni is not in this repository; pip installs patroni==${PATRONI_PIP}`,
    )
    const calls = readFileSync(jail.log, 'utf8').trimEnd().split('\n')
    t.notOk(calls.includes('pkg install -y py311-patroni'))
    for (const pkg of [
      'py311-pip',
      'py311-psycopg2',
      'py311-python-consul2',
      'py311-python-etcd',
      'py311-psutil',
    ])
      t.ok(calls.includes(`pkg install -y ${pkg}`), pkg)
    const pip = calls.findIndex(
      (c) => c === `pip-3.11 install --no-cache-dir --progress-bar off patroni==${PATRONI_PIP}`,
    )
    t.ok(
      pip > calls.indexOf('pkg install -y py311-python-etcd'),
      'pip runs after the packaged clients are in',
    )
    t.match(
      readFileSync(join(jail.root, 'usr/local/share/cook/image.txt'), 'utf8'),
      /^patroni: +\S+ \(pip\)$/m,
    )
    const packaged = await jailRoot(t, 'auto')
    t.equal((await buildScript(packaged)).exitCode, 0)
    t.match(
      readFileSync(join(packaged.root, 'usr/local/share/cook/image.txt'), 'utf8'),
      /^patroni: +\S+ \(package\)$/m,
    )
  },
)

t.test('the in-jail build script stops at the first failing step and names it', async (t) => {
  const jail = await jailRoot(t)
  const r = await buildScript(jail, { PKG_STANDIN_FAIL_INSTALL: 'consul' })
  t.not(r.exitCode, 0)
  t.match(r.stderr, /FAILED at step \d+ \(Install consul\), exit code 1/)
  const log = readFileSync(jail.log, 'utf8')
  t.notMatch(log, /node_exporter|sysrc/, 'nothing after the failing step ran')

  const twoMajors = await jailRoot(t)
  const r2 = await buildScript(twoMajors, { PKG_STANDIN_EXTRA: 'postgresql17-client' })
  t.equal(r2.exitCode, 1)
  t.match(r2.stderr, 'PostgreSQL majors installed: 16 17 ; wanted only 16')
  t.match(
    r2.stderr,
    /FAILED at step \d+ \(Check that every package is installed and that there is exactly one/,
  )
  t.notOk(existsSync(join(twoMajors.root, 'usr/local/share/cook')), 'the cook is not installed')

  const noConf = await jailRoot(t)
  rmSync(join(noConf.root, 'root/.cook-image/build.conf'))
  const r3 = await buildScript(noConf)
  t.equal(r3.exitCode, 1)
  t.match(r3.stderr, 'build.conf is missing: stage the flavour')
})
