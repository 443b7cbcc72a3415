// What a planned stop relies on in the rendered files, each stated as behaviour rather than left to the
// golden files: the rc.d script's stop returns only once Patroni has exited (bounded by
// patroni_stop_timeout), and the Consul agent does not leave on SIGTERM (cook stop runs `consul leave`
// after Patroni, while the agent still answers).
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { PATHS } from '../../cook/layout.js'
import { DEFAULT_STOP_TIMEOUT_S, validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { run } from '../../cook/shell.js'
import { basicEnv, tempDir } from '../helpers.js'
import { hcl2json } from '../hostile.js'
import { sealedEnv, toolsDir } from '../sealed.js'

const rendered = (path: string) => {
  const file = plan(validate(basicEnv())).files.find((f) => f.path === path)
  if (!file) throw new Error(`${path} is not in the plan`)
  return file.content
}

/**
 * The rendered rc.d script, run by /bin/sh with a stand-in for FreeBSD's /etc/rc.subr: load_rc_config
 * reads nothing (rc.conf values come from the environment), run_rc_command runs the script's own
 * `<action>_cmd` function, with the pidfiles pointed into the test directory (stop signals daemon(8), the
 * supervisor, and waits for it).
 */
function rcScript(t: Test) {
  const dir = tempDir(t)
  const subr = join(dir, 'rc.subr')
  const body =
    'load_rc_config() { :; }\nrun_rc_command() { pidfile=$RC_TEST_PIDFILE.patroni supervisor_pidfile=$RC_TEST_PIDFILE; eval "_cmd=\\$${1}_cmd"; $_cmd; }\n'
  writeFileSync(subr, `# Stand-in for the parts of FreeBSD rc.subr(8) that the script uses.\n${body}`)
  const script = join(dir, 'patroni')
  const text = rendered(PATHS.rcPatroni)
  t.match(text, /^\. \/etc\/rc\.subr$/m, 'the script reads rc.subr')
  writeFileSync(script, text.replace(/^\. \/etc\/rc\.subr$/m, `. '${subr}'`))
  const pidfile = join(dir, 'patroni.pid')
  const env = sealedEnv([toolsDir(join(dir, 'tools'), ['cat', 'rm', 'sleep'])])
  return {
    pidfile,
    stop: (timeoutS: number) =>
      run(['/bin/sh', script, 'stop'], {
        env: { ...env, RC_TEST_PIDFILE: pidfile, patroni_stop_timeout: String(timeoutS) },
        timeoutMs: (timeoutS + 10) * 1000,
      }),
  }
}

/** A process that takes `delayS` to exit after SIGTERM (Patroni shutting PostgreSQL down), or never. */
function slowToStop(pidfile: string, delayS: number | 'never') {
  const onTerm = delayS === 'never' ? ':' : `sleep ${delayS}; exit 0`
  const child = spawn('/bin/sh', ['-c', `trap '${onTerm}' TERM; while :; do sleep 0.1; done`], {
    stdio: 'ignore',
  })
  writeFileSync(pidfile, `${child.pid}\n`)
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  let gone = false
  void exited.then(() => (gone = true))
  return { child, gone: () => gone, exited }
}

t.test('rc.d patroni stop returns only once Patroni has exited', async (t) => {
  const rc = rcScript(t)
  const p = slowToStop(rc.pidfile, 1.5)
  t.teardown(() => p.child.kill('SIGKILL'))
  await new Promise((r) => setTimeout(r, 200))
  const r = await rc.stop(20)
  await new Promise((r) => setImmediate(r))
  t.equal(r.exitCode, 0, r.stderr)
  t.ok(p.gone(), 'Patroni had exited when stop returned')
  t.match(r.stdout, /Stopping patroni/)
})

t.test('rc.d patroni stop gives up after patroni_stop_timeout and says so', async (t) => {
  const rc = rcScript(t)
  const p = slowToStop(rc.pidfile, 'never')
  t.teardown(() => p.child.kill('SIGKILL'))
  await new Promise((r) => setTimeout(r, 200))
  const started = Date.now()
  const r = await rc.stop(2)
  t.equal(r.exitCode, 1)
  t.match(r.stderr, /patroni did not exit within 2s/)
  t.ok(Date.now() - started < 6000, 'bounded')
  t.notOk(p.gone(), 'still running: the jail SIGTERM/SIGKILL ends it')
})

t.test("rc.d patroni stop waits for Patroni's own pid, not just its supervisor's", async (t) => {
  // 13.x's daemon(8) forwards SIGTERM to Patroni and exits at once (usr.sbin/daemon/daemon.c before the
  // kqueue rewrite: `if (terminate) goto exit`); Patroni then still stops PostgreSQL and holds the leader key.
  const rc = rcScript(t)
  const patroni = slowToStop(`${rc.pidfile}.patroni`, 1.5)
  const supervisor = spawn(
    '/bin/sh',
    ['-c', `trap 'kill -TERM ${patroni.child.pid}; exit 0' TERM; while :; do sleep 0.1; done`],
    {
      stdio: 'ignore',
    },
  )
  writeFileSync(rc.pidfile, `${supervisor.pid}\n`)
  t.teardown(() => {
    patroni.child.kill('SIGKILL')
    supervisor.kill('SIGKILL')
  })
  await new Promise((r) => setTimeout(r, 200))
  const r = await rc.stop(20)
  await new Promise((r) => setImmediate(r))
  t.equal(r.exitCode, 0, r.stderr)
  t.ok(patroni.gone(), 'Patroni had exited when stop returned, though its supervisor left at once')

  // Without a supervisor (killed, or gone) stop signals Patroni itself, and says what is left at the timeout.
  const orphan = rcScript(t)
  const p = slowToStop(`${orphan.pidfile}.patroni`, 'never')
  t.teardown(() => p.child.kill('SIGKILL'))
  await new Promise((r) => setTimeout(r, 200))
  const late = await orphan.stop(2)
  t.equal(late.exitCode, 1)
  t.match(late.stderr, /patroni did not exit within 2s; still running: Patroni \(pid \d+\)\./)
})

t.test('the Consul agent does not leave on SIGTERM: cook stop leaves after Patroni', async (t) => {
  const agent = await hcl2json(rendered(PATHS.consulAgent))
  t.equal(agent.leave_on_terminate, false)
})

t.test('one stop-timeout default: the schema, the rc.d script and cook stop without rc.conf', async (t) => {
  t.equal(validate(basicEnv()).STOPTIMEOUT, DEFAULT_STOP_TIMEOUT_S, "STOPTIMEOUT's default")
  t.match(rendered(PATHS.rcPatroni), new RegExp(`^_default_stop_timeout=${DEFAULT_STOP_TIMEOUT_S}$`, 'm'))
  t.match(rendered(PATHS.rcPatroni), /^: "\$\{patroni_stop_timeout:=\$\{_default_stop_timeout\}\}"$/m)
})
