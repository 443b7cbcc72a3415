// The image's own files, run as FreeBSD would run them: the cook bundle through its launcher, the rendered
// rc.d script through service(8) and rc.subr, Patroni under daemon(8), and the stop hook as jail(8) runs
// exec.stop (the caller's environment, a poor PATH, a cwd of its own), in a FreeBSD-shaped view of this
// machine (test/jailview.ts) whose stand-ins copy the FreeBSD sources they name (test/jail-standins.ts).
import { execFileSync } from 'node:child_process'
import { existsSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { poll } from '../../cook/wait.js'
import { freeBlock } from '../../scripts/lib/netblock.js'
import { rootSkip, tempDir } from '../helpers.js'
import { canMakeJailView, copyIn, jailView, MINIMAL_ENV, type JailView } from '../jailview.js'

const ROOT = new URL('../../', import.meta.url).pathname
const IMAGE_BIN = join(ROOT, 'jail-image/patroni-postgresql.d/bin')

// Under CI (which runs as root) rootSkip throws instead: the file fails rather than skip.
const unavailable = rootSkip(
  canMakeJailView() ? false : 'needs root on Linux (a mount namespace with overlays)',
)

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('without root the jail view is skipped, under CI that is a failure', async (t) => {
  t.equal(rootSkip(false, { CI: '1' }), false, 'root: nothing to skip')
  t.equal(rootSkip('needs root', {}), 'needs root', 'a developer machine skips')
  t.equal(rootSkip('needs root', { CI: 'false' }), 'needs root')
  t.throws(
    () => rootSkip('needs root', { CI: '1' }),
    /CI is set \(CI=1\) but needs root: .* a failure, not a skip/,
  )
  t.throws(() => rootSkip('needs root', { CI: 'true' }), /CI is set/)
})

t.test('the jail, as FreeBSD runs it', { skip: unavailable }, async (t) => {
  const dir = tempDir(t, 'jail-view-')
  const view: JailView = await jailView(dir)
  t.teardown(() => view.stop())
  // The real build, as `npm run build` runs it, and the bundle it leaves for the image.
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs')])
  const bundle = join(ROOT, 'dist/cook.mjs')
  copyIn(view, bundle, '/usr/local/share/cook/dist/cook.mjs', 0o644)
  copyIn(view, join(IMAGE_BIN, 'cook-stop'), '/usr/local/bin/cook-stop')

  await t.test(
    'the stop hook exits 0 in a jail whose build failed before the cook was installed',
    async (t) => {
      // pot sets exec_stop before the flavour script runs; a failed create undoes itself with `pot stop`.
      const r = await view.run('/usr/local/bin/cook-stop', { env: MINIMAL_ENV })
      t.equal(r.code, 0)
      t.match(r.stderr, /cook is not installed/)
    },
  )

  copyIn(view, join(IMAGE_BIN, 'cook'), '/usr/local/bin/cook')
  const net = await freeBlock('127.61', 1)
  const myip = `${net}.11`
  // The parameters as pot hands them to the rc.d cook service: in the environment.
  const params = {
    NODENAME: 'pg1',
    MYIP: myip,
    SERVICETAG: 'master',
    DCS: 'etcd',
    ETCDHOSTS: `${net}.10:2379`,
    ADMPASS: 'adm pass, long enough',
    KEKPASS: 'kek pass, long enough',
    STOPTIMEOUT: '15',
    // The FreeBSD stand-ins' Patroni answers plain HTTP; TLS is proven on the dev cluster (e2e security).
    TLS: 'off',
  }
  const rcEnv = { PATH: '/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin', ...params }

  await t.test(
    'first start: the rendered rc.d script starts Patroni under daemon(8) and cook finishes',
    async (t) => {
      const r = await view.run('/usr/local/bin/cook --dev-allow-loopback', {
        env: rcEnv,
        timeoutMs: 120_000,
      })
      t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
      t.match(view.read('/var/log/cook.log'), /seasoned: .* written/)
      t.match(view.read('/etc/rc.conf'), /^patroni_enable="YES"$/m)
      t.match(
        view.calls().join('\n'),
        /^daemon -f -R 2 .* -P \/var\/run\/patroni_daemon\.pid -p \/var\/run\/patroni\.pid -u postgres \/bin\/sh -c .* patroni-start \/var\/log\/patroni\/patroni\.out \/usr\/local\/bin\/patroni \/usr\/local\/etc\/patroni\/patroni\.yml$/m,
      )
      // postgres_exporter through the package's rc script: its environment comes from the env file
      // (postgres_exporter_env_file), the password only as a file name, nothing secret in argv.
      // daemon -f returns before the exporter runs: wait for its line.
      const exporter = await poll(() => view.calls().find((c) => c.startsWith('postgres_exporter ')), {
        timeoutMs: 10000,
        intervalMs: 100,
      })
      // The jail's own rc.d/postgres_exporter (over the package's, which composes DATA_SOURCE_NAME from
      // rc.conf and puts it on daemon's command line): the env file's settings, the web config.
      t.match(
        exporter.ok ? exporter.value : '',
        /^postgres_exporter --web\.listen-address=\S+:9187 --web\.config\.file=\/usr\/local\/etc\/postgres_exporter\/web\.yml env DATA_SOURCE_NAME= DATA_SOURCE_PASS_FILE=\/usr\/local\/etc\/postgres_exporter\/monitor\.pass DATA_SOURCE_URI=\/postgres\?host=%2Fvar%2Frun%2Fpostgresql&port=5432&sslmode=disable DATA_SOURCE_USER=monitor $/,
        'postgres_exporter starts with the DATA_SOURCE_* settings of its env file and its web config',
      )
      const status = await view.run('service patroni status')
      t.equal(status.code, 0)
      t.match(status.stdout, /patroni is running as pid \d+ \(supervised by daemon\(8\) pid \d+\)/)
    },
  )

  await t.test(
    "the exporters' rc scripts read every rc.conf variable the jail sets as cook means it",
    async (t) => {
      const rc = Object.fromEntries(
        [...view.read('/etc/rc.conf').matchAll(/^((?:node|postgres)_exporter_\w+)="?([^"\n]*)"?$/gm)].map(
          (m) => [m[1] ?? '', m[2] ?? ''],
        ),
      )
      const line = async (prefix: string) => {
        const r = await poll(() => view.calls().find((c) => c.startsWith(prefix)), {
          timeoutMs: 10000,
          intervalMs: 100,
        })
        return r.ok ? r.value : ''
      }
      // node_exporter through the package's own script (copied): node_exporter_flags reach daemon(8)
      // before the script's -f -p -T (rc.subr's rc_flags), node_exporter_args the exporter.
      const daemon = await line('daemon -H -o /var/log/node_exporter/')
      t.equal(
        daemon,
        `daemon ${rc.node_exporter_flags} -f -p /var/run/node_exporter.pid -T node_exporter /usr/bin/env /usr/local/bin/node_exporter --web.listen-address=${rc.node_exporter_listen_address} --collector.textfile.directory=${rc.node_exporter_textfile_dir} ${rc.node_exporter_args}`,
      )
      t.equal(
        await line('node_exporter '),
        `node_exporter --web.listen-address=${rc.node_exporter_listen_address} --collector.textfile.directory=${rc.node_exporter_textfile_dir} --web.config.file=/usr/local/etc/node_exporter/web.yml`,
      )
      // Its output lands in a file (no syslogd in a Nomad jail), which newsyslog rotates as nodeexport.
      const out = await until('node_exporter.log', () => {
        const text = existsSync(view.at('/var/log/node_exporter/node_exporter.log'))
          ? view.read('/var/log/node_exporter/node_exporter.log')
          : ''
        return text.includes('Listening on') ? text : undefined
      })
      t.match(out, /node_exporter stand-in: msg="Listening on"/)
      t.match(
        view.read('/usr/local/etc/newsyslog-nodeexport.conf'),
        /^\/var\/log\/node_exporter\/node_exporter\.log\s/m,
      )
      t.match(
        view.read('/usr/local/etc/cron.d/newsyslog-users'),
        /^0 \* \* \* \* nodeexport \/usr\/sbin\/newsyslog -r -f \/usr\/local\/etc\/newsyslog-nodeexport\.conf$/m,
      )
      // node_exporter_user and _group: the script's precmd makes the pid file theirs.
      t.equal(statSync(view.at('/var/run/node_exporter.pid')).uid, 991, "the pid file is nodeexport's")
      t.same(Object.keys(rc).sort(), [
        'node_exporter_args',
        'node_exporter_enable',
        'node_exporter_flags',
        'node_exporter_group',
        'node_exporter_listen_address',
        'node_exporter_textfile_dir',
        'node_exporter_user',
        'postgres_exporter_enable',
        'postgres_exporter_env_file',
        'postgres_exporter_listen_address',
        'postgres_exporter_user',
        'postgres_exporter_web_config',
      ])
      // postgres_exporter through the jail's own script: user, listen address, web config, env file.
      t.match(
        await line('daemon -f -H -P /var/run/postgres_exporter_daemon.pid'),
        `-u ${rc.postgres_exporter_user} /usr/local/bin/postgres_exporter --web.listen-address=${rc.postgres_exporter_listen_address} --web.config.file=${rc.postgres_exporter_web_config}`,
      )
      t.notMatch(
        view.read('/etc/rc.conf'),
        /_pg_(user|pass|host|port)=/,
        "none of the package script's DSN parts",
      )
      const status = await view.run('service node_exporter status; service postgres_exporter status')
      t.match(
        status.stdout,
        /node_exporter is running as pid \d+\.\npostgres_exporter is running as pid \d+\./,
      )
    },
  )

  await t.test("`service patroni start` lets go of its caller's pipes (daemon -f)", async (t) => {
    // The way /etc/rc, pot and the cook call it: through pipes that the caller reads to their end.
    // Without -f the supervisor holds them for Patroni's whole life, and `cat` never sees the end.
    const r = await view.run('service patroni restart | cat; echo "pipe closed: $?"', { timeoutMs: 30_000 })
    t.match(r.stdout, /Starting patroni\.\npipe closed: 0/)
  })

  await t.test(
    "Patroni's output lands in /var/log/patroni/patroni.out, written by Patroni itself, not daemon(8)",
    async (t) => {
      const out = await until('patroni.out', () => {
        const text = existsSync(view.at('/var/log/patroni/patroni.out'))
          ? view.read('/var/log/patroni/patroni.out')
          : ''
        return /REST API on/.test(text) ? text : undefined
      })
      t.match(out, /patroni stand-in: REST API on/)
      // Patroni's stdout and stderr are that file, not daemon(8)'s pipe: what Patroni starts inherits it.
      const pid = await until('Patroni', () => {
        const p = existsSync(view.at('/var/run/patroni.pid'))
          ? Number(view.read('/var/run/patroni.pid'))
          : NaN
        return p > 0 && alive(p) ? p : undefined
      })
      for (const fd of [1, 2])
        t.match(
          readlinkSync(`/proc/${pid}/fd/${fd}`),
          /\/var\/log\/patroni\/patroni\.out$/,
          `fd ${fd}: the file, no pipe`,
        )
    },
  )

  await t.test(
    'a Patroni that dies is back within seconds; a stop is not followed by a restart',
    async (t) => {
      // daemon(8) writes both pid files after `service` has returned: wait for them.
      const pidIn = (file: string) => () => {
        const pid = existsSync(view.at(file)) ? Number(view.read(file)) : NaN
        return pid > 0 && alive(pid) ? pid : undefined
      }
      const supervisor = await until('the supervisor', pidIn('/var/run/patroni_daemon.pid'))
      const first = await until('Patroni', pidIn('/var/run/patroni.pid'))
      process.kill(first, 'SIGKILL')
      const second = await until('a restarted Patroni', () => {
        const pid = pidIn('/var/run/patroni.pid')()
        return pid !== first ? pid : undefined
      })
      t.not(second, first, `Patroni ${first} was killed; daemon(8) started ${second}`)
      t.ok(alive(supervisor), 'the same supervisor')
      const stop = await view.run('service patroni stop')
      t.equal(stop.code, 0, stop.stderr)
      t.notOk(alive(second) || alive(supervisor), 'Patroni and its supervisor are gone')
      await new Promise((r) => setTimeout(r, 3000)) // longer than patroni_restart_delay
      const status = await view.run('service patroni status')
      t.equal(status.code, 1)
      t.match(status.stdout, /patroni is not running/)
    },
  )

  await t.test('the stop hook works with the environment jail(8) gives exec.stop', async (t) => {
    // Started again by the cook (parameters unchanged: services only), as after a jail restart.
    const again = await view.run('/usr/local/bin/cook --dev-allow-loopback', {
      env: rcEnv,
      timeoutMs: 120_000,
    })
    t.equal(again.code, 0, again.stderr)
    // consul_enable as a Consul member has it: `cook stop` must reach /usr/local/bin/consul.
    await view.run('sysrc consul_enable=YES')
    const supervisor = Number(view.read('/var/run/patroni_daemon.pid'))
    await view.run('mkdir -m 0700 /var/empty-cwd')
    const before = view.calls().length
    const r = await view.stop({
      execStop: '/usr/local/bin/cook-stop',
      env: MINIMAL_ENV,
      cwd: '/var/empty-cwd',
    })
    t.equal(r?.code, 0, r?.stderr ?? '')
    const calls = view.calls().slice(before)
    t.ok(calls.includes('service patroni stop'), calls.join('\n'))
    t.ok(calls.includes('service node_exporter stop'))
    t.ok(calls.includes('consul leave'), "`consul leave` ran: /usr/local/bin is not on the caller's PATH")
    t.notOk(alive(supervisor))
    const log = view.read('/var/log/cook.log')
    t.match(log, /cook stop finished in/)
    t.notMatch(log, /not found/)
  })
})
