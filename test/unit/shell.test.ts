// zx through /bin/sh (dash on this machine) with POSIX single-quote quoting: hostile words pass unchanged.
import t from 'tap'
import { $, commandLine, run, runOk } from '../../cook/shell.js'
import { CookError } from '../../cook/errors.js'

const HOSTILE = [
  "it's",
  '"double"',
  '$HOME',
  '$(id -u)',
  '`id -u`',
  'two words',
  ' leading and trailing ',
  'line one\nline two',
  'tab\there',
  'back\\slash',
  '*',
  '; rm -rf /tmp/never',
  '--',
  '-n',
  '',
  "'",
  "''\\''",
  'ünïcødé ✓',
]

t.test('commands run in /bin/sh, not bash', async (t) => {
  t.equal((await $`echo $0`).stdout.trim(), '/bin/sh')
  // [[ is bash syntax: dash has no such command.
  const r = await run(['sh', '-c', '[[ 1 == 1 ]]'])
  t.not(r.exitCode, 0)
  const bashism = await $({ nothrow: true })`[[ 1 == 1 ]]`
  t.equal(bashism.exitCode, 127, 'dash reports [[ as a command not found')
})

t.test('hostile arguments reach the command unchanged', async (t) => {
  const r = await runOk(['printf', '%s\\0', ...HOSTILE])
  t.same(r.stdout.split('\0').slice(0, -1), HOSTILE)
  // The same through the template tag with single values.
  for (const word of HOSTILE) t.equal((await $`printf %s ${word}`).stdout, word, JSON.stringify(word))
})

t.test('a failed command is a SERVICE_FAILED error carrying command, exit code and stderr', async (t) => {
  const err = await runOk(['sh', '-c', 'echo "it broke" >&2; exit 3', 'a b']).catch((e: unknown) => e)
  t.ok(err instanceof CookError)
  const e = err as CookError
  t.equal(e.code, 'SERVICE_FAILED')
  t.equal(e.exitCode, 69)
  t.match(e.message, /^command failed: sh -c 'echo "it broke" >&2; exit 3' 'a b'$/m)
  t.match(e.message, /^exit code: 3$/m)
  t.match(e.message, /^stderr: it broke$/m)
  const missing = (await runOk(['no-such-command-here']).catch((x: unknown) => x)) as CookError
  t.match(missing.message, /exit code: 127 \(Command not found\)/)
})

t.test('a timeout ends the command with a signal', async (t) => {
  const r = await run(['sleep', '5'], { timeoutMs: 200 })
  t.equal(r.timedOut, true)
  t.not(r.exitCode, 0)
  // A shell script with a child of its own is ended too.
  const started = Date.now()
  const nested = await run(['sh', '-c', 'sleep 5; echo never'], { timeoutMs: 200 })
  t.equal(nested.timedOut, true)
  t.notMatch(nested.stdout, /never/)
  t.ok(Date.now() - started < 4000, 'did not wait for the child')
  t.equal((await run(['true'], { timeoutMs: 2000 })).timedOut, false)
})

t.test(
  'a child that keeps stdout and stderr open does not hold the caller (daemon(8) without -f)',
  async (t) => {
    // The command backgrounds a sleeper that inherits its stdout and stderr, as daemon(8) without -f
    // keeps its caller's descriptors, and exits. A caller that waits for the pipes to close hangs here.
    const r = await run(['sh', '-c', 'sleep 60 & echo $!; echo started; echo to-stderr >&2'], {
      timeoutMs: 30_000,
    })
    const sleeper = Number(r.stdout.split('\n')[0])
    t.teardown(() => {
      try {
        process.kill(sleeper, 'SIGKILL')
      } catch {
        // gone
      }
    })
    t.equal(r.timedOut, false, 'returned when the command exited, not at the timeout')
    t.equal(r.exitCode, 0)
    t.match(r.stdout, /^\d+\nstarted\n$/)
    t.equal(r.stderr, 'to-stderr\n')
    t.doesNotThrow(() => process.kill(sleeper, 0), 'the grandchild still holds the descriptors')
  },
)

t.test('the environment is the one given', async (t) => {
  const r = await runOk(['sh', '-c', 'printf %s "$COOK_TEST_VALUE"'], {
    env: { PATH: '/usr/bin:/bin', COOK_TEST_VALUE: "x'y $z" },
  })
  t.equal(r.stdout, "x'y $z")
})

t.test('commandLine quotes only what needs it', async (t) => {
  t.equal(commandLine(['sysrc', 'consul_enable=YES']), 'sysrc consul_enable=YES')
  t.equal(commandLine(['echo', "it's", '']), `echo 'it'\\''s' ''`)
})
