// No secret is readable by another user of the jail (issue #25.3). A jail view (test/jailview.ts) with a /tmp
// of its own is started the three ways pot starts this image, by a stand-in of pot's start.sh that copies
// what pot writes into the jail (test/fixtures/pot-start.sh, bsdpot/pot 5ef4db1): the Nomad job as written
// (which variables the driver passes to `pot set-env`, which become files, and their modes, are read from
// nomad/patroni-postgresql.nomad.hcl), an operator's `pot set-env` in a pot without rc scripts, and a pot
// with rc scripts. Once the cook has started the jail, `nobody` reads every file the jail wrote, its /tmp and
// every jail process's command line, looking for each secret (and its base64).
import { execFileSync } from 'node:child_process'
import { lstatSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import t, { type Test } from 'tap'
import { validate, type RawParams } from '../../cook/params.js'
import { sh } from '../../cook/quote.js'
import { poll } from '../../cook/wait.js'
import { freeBlock } from '../../scripts/lib/netblock.js'
import { tempDir } from '../helpers.js'
import { canMakeJailView, copyIn, jailView, MINIMAL_ENV, type JailView } from '../jailview.js'
import { block, blocks, loadJob } from '../nomad-job.js'

const ROOT = new URL('../../', import.meta.url).pathname
const IMAGE_BIN = join(ROOT, 'jail-image/patroni-postgresql.d/bin')
const unavailable = canMakeJailView() ? false : 'needs root on Linux (a mount namespace with overlays)'

const job = await loadJob()
const envBlock = block(job.task, 'env')
const secretsTemplate = blocks(job.task, 'template').find((tpl) => String(tpl.data).includes('nomadVar'))

/** Where pot keeps its pots (the host's side: not scanned) and where the task's secrets directory is. */
const POT_FS_ROOT = '/run/potfs'
/** The job's /secrets (the driver mounts the task's secrets directory there); / of this machine cannot
 * get a new directory, so the view has it here. test/unit/nomad.test.ts proves SECRETSFILE names it. */
const SECRETS_DIR = '/run/nomad-secrets'

const SECRET = { ADMPASS: 'adm-S3cret-7f2c91', KEKPASS: 'kek-S3cret-91ab4e' }

interface Start {
  /** pot.conf's pot.env variables, as `pot set-env` writes them. */
  potEnv: Record<string, string>
  noRcScript: boolean
  /** The task's secrets file (Nomad's template), with its mode. */
  secretsFile?: { text: string; mode: number }
}

/** pot set-env (share/pot/set-env.sh): one pot.env="NAME=value" line each, only " escaped. */
function potConf(name: string, ip: string, s: Start): string {
  return [
    `pot.cmd=/usr/local/bin/cook --dev-allow-loopback`,
    `ip=${ip}`,
    'network_type=inherit',
    `pot.attr.no-rc-script=${s.noRcScript ? 'YES' : 'NO'}`,
    ...Object.entries(s.potEnv).map(([k, v]) => `pot.env="${k}=${v.replace(/"/g, '\\"')}"`),
    '',
  ].join('\n')
}

/** Every file the jail wrote (the view's upper directories), its /tmp, and the command lines of its processes. */
async function jailFiles(view: JailView, dir: string): Promise<string[]> {
  const upper = join(dir, 'upper')
  const files: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      const st = lstatSync(full)
      if (st.isDirectory()) walk(full)
      else if (st.isFile()) files.push(`/${relative(upper, full)}`)
    }
  }
  walk(upper)
  const tmp = await view.run('find /tmp -type f')
  return [
    ...files.filter((f) => !f.startsWith(`${POT_FS_ROOT}/`)),
    ...tmp.stdout.split('\n').filter(Boolean),
    ...view.pids().map((pid) => `/proc/${pid}/cmdline`),
  ]
}

/** The files among `files` in which `nobody` finds one of the values. */
async function readableByNobody(view: JailView, files: string[], values: string[]): Promise<string[]> {
  const patterns = values.flatMap((v) => ['-e', v])
  const r = await view.run(
    `runuser -u nobody -- grep -l -a -F ${patterns.map(sh).join(' ')} -- ${files.map(sh).join(' ')} 2>/dev/null; true`,
  )
  return r.stdout.split('\n').filter(Boolean)
}

async function startedJail(
  t: Test,
  host: number,
  how: (params: Record<string, string>) => Start,
): Promise<{ view: JailView; dir: string; values: string[]; found: () => Promise<string[]> }> {
  const dir = tempDir(t, 'jail-secrets-')
  const view = await jailView(dir, { privateTmp: true })
  t.teardown(() => view.stop())
  copyIn(view, join(ROOT, 'dist/cook.mjs'), '/usr/local/share/cook/dist/cook.mjs', 0o644)
  copyIn(view, join(IMAGE_BIN, 'cook'), '/usr/local/bin/cook')
  copyIn(view, join(IMAGE_BIN, 'cook-stop'), '/usr/local/bin/cook-stop')
  copyIn(view, join(ROOT, 'test/fixtures/pot-start.sh'), `${POT_FS_ROOT}/bin/start.sh`)
  copyIn(view, join(ROOT, 'test/fixtures/pot-cmd'), `${POT_FS_ROOT}/bin/pot-cmd`)
  const net = await freeBlock('127.82', 1)
  const params = {
    NODENAME: 'pg1',
    MYIP: `${net}.${host}`,
    SERVICETAG: 'master',
    DCS: 'etcd',
    ETCDHOSTS: `${net}.10:2379`,
    STOPTIMEOUT: '15',
    // The FreeBSD stand-ins' Patroni answers plain HTTP; TLS is proven on the dev cluster (e2e security).
    TLS: 'off',
  }
  const start = how(params)
  view.put(`${POT_FS_ROOT}/jails/pg1/conf/pot.conf`, potConf('pg1', params.MYIP, start))
  if (start.secretsFile) view.put(`${SECRETS_DIR}/cook.env`, start.secretsFile.text, start.secretsFile.mode)
  await view.run(`ln -s / ${POT_FS_ROOT}/jails/pg1/m`)
  // pot start, run as the Nomad client or an operator runs it: it ends in `jexec` of the jail's command,
  // which in a Nomad jail (cook in the foreground) does not return while the jail runs.
  void view.run(`POT_FS_ROOT=${POT_FS_ROOT} ${POT_FS_ROOT}/bin/start.sh pg1`, {
    env: MINIMAL_ENV,
    timeoutMs: 300_000,
  })
  const up = await poll(
    () => {
      try {
        const log = view.read('/var/log/cook.log')
        return /seasoned: .* written|all services running|error: /.test(log) ? log : undefined
      } catch {
        return undefined
      }
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  )
  t.ok(up.ok && !/error: /.test(up.value), `the cook started the jail\n${up.ok ? up.value : ''}`)
  // Every secret the jail holds: the given ones, in base64 too, and what the cook derives from KEKPASS.
  const p = validate({ ...params, ...SECRET } as RawParams, { allowLoopback: true })
  const values = [
    ...Object.values(SECRET),
    ...Object.values(SECRET).map((v) => Buffer.from(v).toString('base64')),
    p.REPPASS,
    p.REWINDPASS,
    p.MONPASS,
    p.RESTPASS,
  ]
  return { view, dir, values, found: async () => readableByNobody(view, await jailFiles(view, dir), values) }
}

// Three jails started one after the other: minutes on a loaded two-core machine.
t.test('no jail user but root can read a secret', { skip: unavailable, timeout: 600_000 }, async (t) => {
  // The real build, as `npm run build` runs it, and the bundle it leaves for the image.
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs')])

  await t.test('the Nomad job as written (pot prepare: no rc scripts)', async (t) => {
    const j = await startedJail(t, 11, (params) => {
      // What the driver hands to `pot set-env` (nomad-pot-driver prepare.go, cfg.Env): NOMAD_* and env {},
      // with this test's values for the parameters; and the template's keys when it has env = true.
      const potEnv: Record<string, string> = { NOMAD_ALLOC_ID: 'a1b2c3', NOMAD_TASK_NAME: 'postgresql' }
      for (const key of Object.keys(envBlock)) {
        if (key === 'SECRETSFILE') potEnv[key] = `${SECRETS_DIR}/cook.env`
        else if (params[key] !== undefined) potEnv[key] = params[key]
      }
      for (const [k, v] of Object.entries(params)) potEnv[k] ??= v
      const lines = Object.entries(SECRET).map(([k, v]) => [`${k}_B64`, Buffer.from(v).toString('base64')])
      if (secretsTemplate?.env === true) for (const [k, v] of lines) potEnv[k as string] = v as string
      // Nomad's template stanza writes perms (default "644") as the client's user, root.
      const mode = Number.parseInt(String(secretsTemplate?.perms ?? '644'), 8)
      return {
        potEnv,
        noRcScript: true,
        secretsFile: { text: `${lines.map(([k, v]) => `${k}=${v}`).join('\n')}\n`, mode },
      }
    })
    t.same(await j.found(), [], 'nobody reads no secret anywhere in the jail')
    t.match(j.view.read('/var/log/cook.log'), /parameters valid/)
  })

  await t.test("an operator's pot set-env in a pot without rc scripts", async (t) => {
    const j = await startedJail(t, 12, (params) => ({
      potEnv: { ...params, ...SECRET },
      noRcScript: true,
    }))
    t.same(await j.found(), [], "pot's tinirc no longer holds them once the cook runs")
    t.match(j.view.read('/var/log/cook.log'), /removed \d+ environment line\(s\) from \/tmp\/tinirc/)
    const tinirc = await j.view.run(
      'stat -c "%a %u" /tmp/tinirc; grep -c "^export " /tmp/tinirc; tail -n 1 /tmp/tinirc',
    )
    t.match(
      tinirc.stdout,
      /^700 0\n0\nexec \/usr\/local\/bin\/cook --dev-allow-loopback\n$/,
      'rewritten in place, root only',
    )
  })

  await t.test("a pot with rc scripts: pot's environment.sh", async (t) => {
    const j = await startedJail(t, 13, (params) => ({ potEnv: { ...params, ...SECRET }, noRcScript: false }))
    t.same(await j.found(), [], 'environment.sh is root-only (mktemp 0600, cp)')
    const st = await j.view.run('stat -c "%a %u" /tmp/environment.sh')
    t.equal(st.stdout.trim(), '600 0', 'and stays, for `cook check` and a re-run')
  })
})
