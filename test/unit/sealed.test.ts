// The guard of test/sealed.ts: no unit test may run a real FreeBSD-named or system command. A PATH on
// which one would be found is refused before the cook runs, and the sealed PATHs hold only stand-ins and
// links to named tools.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { $ } from '../../cook/shell.js'
import { cook, tempDir } from '../helpers.js'
import { assertSealed, onMachinePath, Refused, sealedEnv, toolsDir } from '../sealed.js'
import { standIns } from '../standins.js'

/** A directory holding a `service` that leaves a witness file when it runs: a machine's real one. */
function fakeRealService(dir: string): { bin: string; witness: string } {
  const bin = join(dir, 'usr-sbin')
  const witness = join(dir, 'the-real-service-ran')
  mkdirSync(bin)
  writeFileSync(join(bin, 'service'), `#!/bin/sh\ntouch '${witness}'\n`)
  chmodSync(join(bin, 'service'), 0o755)
  return { bin, witness }
}

t.test(
  'cook stop on a PATH where a real `service` would be found is refused, and nothing runs',
  async (t) => {
    const dir = tempDir(t)
    const root = join(dir, 'jail')
    const real = fakeRealService(dir)
    const s = standIns(join(dir, 'standins'))
    for (const PATH of [real.bin, `${s.env.PATH}:${real.bin}`]) {
      await t.rejects(cook(['stop', '--root', root, '--timeout', '5'], { PATH }), {
        name: 'Refused',
        message: new RegExp(
          `PATH entry "${real.bin}" is not a sealed directory.*the real ${real.bin}/service`,
        ),
      })
      t.notOk(existsSync(real.witness), `${PATH}: the real service never ran`)
      t.notOk(existsSync(root), 'cook never started: no log, no stopping flag')
    }
  },
)

const machineService = onMachinePath('service')
t.test(
  "this machine's own PATH is refused when it holds a real service(8)",
  { skip: !machineService && 'no service(8) on this machine' },
  async (t) => {
    // The guard alone, not a cook run: were the guard broken, a run would reach the real service(8).
    t.throws(() => assertSealed({ PATH: process.env.PATH }), {
      message: new RegExp(`the real ${machineService}$`),
    })
  },
)

t.test('no PATH at all is refused: /bin/sh would search its default one', async (t) => {
  t.throws(() => sealedEnv([]), Refused)
  t.throws(() => sealedEnv(['relative/bin']), /not a sealed directory/)
})

t.test('a tools directory links named tools only, never a FreeBSD or system command', async (t) => {
  const dir = tempDir(t)
  t.throws(
    () => toolsDir(join(dir, 'a'), ['grep', 'service']),
    /refused: service is a FreeBSD or system command/,
  )
  const tools = toolsDir(join(dir, 'b'), ['grep'])
  // A real `consul` slipped into a tools directory by hand is still found by the guard.
  writeFileSync(join(tools, 'consul'), '#!/bin/sh\n')
  t.throws(() => sealedEnv([tools]), /links a real command/)
})

t.test("the stand-ins' sealed PATH: the stand-ins and their tools, nothing else", async (t) => {
  const s = standIns(tempDir(t))
  // What /bin/sh would run for `name` on that PATH.
  const which = async (name: string) => {
    const r = await $({ env: s.env, nothrow: true })`command -v ${name}`
    return r.exitCode === 0 ? r.stdout.trim() : 'none'
  }
  t.equal(await which('service'), join(s.dir, 'service'), 'service is the stand-in')
  t.equal(await which('grep'), join(s.dir, '..', 'standin-tools', 'grep'), 'a named tool is a link')
  for (const name of ['systemctl', 'patronictl', 'pot', 'jail', 'ls', 'python3'])
    t.equal(await which(name), 'none', `${name} is not reachable`)
})
