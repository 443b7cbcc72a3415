// Security on one live cluster (TLS on, as `npm run cluster` runs it): the REST API's unsafe endpoints
// refuse callers without credentials and change nothing, and work with them (patronictl included);
// PostgreSQL refuses plain-text clients on a member and through HAProxy; every replication connection is
// TLS; a certificate rotation during a write loop is a reload, not a restart, and no write fails.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { promisify } from 'node:util'
import t from 'tap'
import type { Member } from '../../scripts/lib/cluster.js'
import { hbaVerdict, type HbaProbe } from '../../scripts/lib/hba-probe.js'
import { asUser, sleep } from '../../scripts/lib/procs.js'
import { servedCertificate } from '../../scripts/lib/served-cert.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { Writer } from '../../scripts/lib/writer.js'
import { since, startCluster } from './setup.js'

const run = promisify(execFile)

t.test(
  'security: REST credentials, TLS-only PostgreSQL, TLS replication, rotation without a failed write',
  async (t) => {
    const t0 = Date.now()
    // Every loopback connection comes from 127.0.0.1 (members, HAProxy, this harness): those are the members'
    // addresses here. A client bound to another address of the block stands for an application host.
    const c = await startCluster(t, {
      scope: 'e2e-security',
      block: '127.64',
      params: { MEMBERNETS: '127.0.0.1/32', ALLOWNETS: '127.0.0.1/32 127.64.0.0/16' },
    })
    const { leader, replicas } = await c.waitFormed()
    await c.waitPrimaryRoute(leader)
    t.comment(`formed with TLS in ${since(t0)}`)
    const tls = c.tls
    if (!tls) throw new Error('the dev cluster runs TLS by default')
    const [replica, other] = replicas as [Member, Member]
    const pm = (m: Member) => c.postmasterPid(m)
    const configOf = async () =>
      JSON.parse((await c.rest(leader, 'GET', '/config')).text) as Record<string, unknown>

    await t.test('connect time through :5000 (psql, verify-full, SCRAM, SELECT 1)', async (t) => {
      const times: number[] = []
      for (let i = 0; i < 30; i++) {
        const s = process.hrtime.bigint()
        await c.query(c.primaryConn('admin'), 'SELECT 1')
        times.push(Number(process.hrtime.bigint() - s) / 1e6)
      }
      times.sort((a, b) => a - b)
      const ms = (x: number | undefined) => `${(x ?? NaN).toFixed(1)} ms`
      t.comment(
        `connect through :5000: median ${ms(times[15])}, min ${ms(times[0])}, max ${ms(times[29])} (30)`,
      )
      t.equal(times.length, 30)
    })

    await t.test('unsafe REST calls without credentials: 401, nothing changes', async (t) => {
      const before = { config: await configOf(), leaderPm: pm(leader), replicaPm: pm(replica) }
      const calls: [Member, string, string, object][] = [
        [leader, 'POST', '/switchover', { leader: leader.name, candidate: replica.name }],
        [leader, 'POST', '/restart', {}],
        [replica, 'POST', '/reinitialize', { force: true }],
        [leader, 'PATCH', '/config', { ttl: 31, postgresql: { parameters: { work_mem: '7MB' } } }],
      ]
      for (const [m, method, path, body] of calls) {
        const r = await c.rest(m, method, path, body, false)
        t.equal(r.status, 401, `${method} ${path} on ${m.name} without credentials: 401`)
      }
      const wrong = await c.rest(leader, 'PATCH', '/config', { ttl: 32 }, false)
      t.equal(wrong.status, 401)
      await sleep(3000) // a loop_wait and more: anything accepted would have happened by now
      t.equal(await c.leaderName(), leader.name, 'no switchover')
      t.equal(pm(leader), before.leaderPm, 'no restart of the leader')
      t.equal(pm(replica), before.replicaPm, 'no reinitialisation of the replica')
      t.same(await configOf(), before.config, 'the dynamic configuration is unchanged')
    })

    await t.test('with credentials they work; patronictl uses them from patroni.yml', async (t) => {
      const patch = await c.rest(leader, 'PATCH', '/config', {
        postgresql: { parameters: { work_mem: '7MB' } },
      })
      t.equal(patch.status, 200, 'PATCH /config with credentials')
      // GET /config answers from the member's view of the DCS, which its next loop refreshes.
      await waitFor(
        'work_mem 7MB in GET /config',
        async () => {
          const config = (await configOf()) as { postgresql?: { parameters?: { work_mem?: string } } }
          return config.postgresql?.parameters?.work_mem === '7MB' ? true : undefined
        },
        { timeout: 15000 },
      )
      t.pass('PATCH /config is in the dynamic configuration')

      const pmBefore = pm(other)
      const [cmd = '', ...args] = asUser('postgres', [
      'patronictl', '-c', other.config, 'restart', c.opts.scope, other.name, '--force',
    ]) // prettier-ignore
      const ctl = await run(cmd, args, { timeout: 60000 })
      t.match(
        ctl.stdout,
        /Success: restart on member/,
        'patronictl restart (POST /restart over HTTPS with the ctl CA)',
      )
      await waitFor(
        `${other.name} restarted`,
        async () => pm(other) !== undefined && pm(other) !== pmBefore,
        {
          timeout: 30000,
          interval: 200,
        },
      )
      t.pass(`${other.name}'s postmaster restarted`)

      const reinit = await c.rest(replica, 'POST', '/reinitialize', { force: true })
      t.equal(reinit.status, 200, `POST /reinitialize on ${replica.name} with credentials`)
      await c.waitFormed()

      const sw = await c.rest(leader, 'POST', '/switchover', { leader: leader.name, candidate: replica.name })
      t.equal(sw.status, 200, `POST /switchover with credentials: ${sw.text}`)
      const next = await c.waitNewLeader(leader)
      t.equal(next.name, replica.name, 'the candidate leads')
      await c.waitFormed()
      await c.waitPrimaryRoute(next)
    })

    await t.test(
      'PostgreSQL: plain text refused on a member and through :5000; replication is TLS',
      async (t) => {
        const plain = { mode: 'disable' }
        const leaderNow = c.member((await c.leaderName()) ?? '')
        for (const [what, conn] of [
          [`member ${leaderNow.name}`, c.memberConn(leaderNow, 'admin')],
          ['HAProxy :5000', c.primaryConn('admin')],
        ] as const)
          await t.rejects(
            c.query(conn, 'SELECT 1', plain),
            /no pg_hba\.conf entry .*no encryption/,
            `${what}: sslmode=disable refused`,
          )
        const [row] = await c.query(
          c.primaryConn('admin'),
          'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        )
        t.same(row?.[0], 't', 'a verify-full client through :5000 gets TLS')
        const repl = await c.query(
          c.memberConn(leaderNow),
          'SELECT r.application_name, s.ssl, s.version FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1',
        )
        t.equal(repl.length, 2, 'two replication connections')
        for (const [name, ssl, version] of repl) t.equal(ssl, 't', `${name} replicates over TLS (${version})`)
      },
    )

    await t.test(
      'from an application host: admin only; postgres, replication, rewinder and monitor refused, and the unsafe REST calls',
      async (t) => {
        const app = `${c.opts.net}.50`
        const m = c.member((await c.leaderName()) ?? '')
        const ask = (o: Partial<HbaProbe> & { user: string }) =>
          hbaVerdict({ host: m.ip, port: 5432, tls: true, localAddress: app, ...o })
        t.equal(await ask({ user: 'admin' }), 'password', 'admin: asked for its password')
        t.equal(await ask({ user: 'postgres' }), 'reject', 'postgres: a reject line')
        t.equal(await ask({ user: 'rewinder' }), 'reject', 'rewinder: a reject line')
        t.equal(await ask({ user: 'monitor' }), 'reject', 'monitor: a reject line')
        t.equal(await ask({ user: 'replicator', replication: true }), 'reject', 'streaming: a reject line')
        t.equal(
          await ask({ user: 'postgres', localAddress: '127.0.0.1' }),
          'password',
          'postgres from a member',
        )
        const [row] = await c.query(c.primaryConn('admin'), 'SELECT current_user')
        t.same(row, ['admin'], 'admin logs in through :5000 (verify-full, SCRAM)')

        // Patroni's unsafe endpoints answer only the members, even with the right password.
        const post = (localAddress: string) =>
          new Promise<number>((resolve, reject) => {
            const req = httpsRequest(
              `${m.restUrl}/restart`,
              {
                method: 'POST',
                localAddress,
                ca: readFileSync(tls.ca.cert),
                auth: `patroni:${m.params.RESTPASS}`,
                headers: { 'content-type': 'application/json' },
                agent: false,
                timeout: 5000,
              },
              (res) => {
                res.resume()
                resolve(res.statusCode ?? 0)
              },
            )
            req.on('error', reject)
            req.end(JSON.stringify({ schedule: '2999-01-01T00:00:00+00:00' }))
          })
        t.equal(await post(app), 403, 'POST /restart with RESTPASS from the application host: 403')
        const scheduled = await post('127.0.0.1')
        t.equal(scheduled, 202, 'from a member it is accepted (a restart scheduled far ahead)')
        const del = await c.rest(m, 'DELETE', '/restart', {})
        t.equal(del.status, 200, 'and the scheduled restart removed')
      },
    )

    await t.test('a certificate rotation is a reload: no restart, no failed write', async (t) => {
      const writer = new Writer(c, 'rotation')
      await writer.start()
      await sleep(1000)
      const ca = readFileSync(tls.ca.cert, 'utf8')
      const pids = c.members.map((m) => [m.proc?.pid, pm(m)])
      for (const m of c.members) {
        const old = await servedCertificate(m.ip, 5432, { ca, postgres: true })
        await c.reseason(m, tls.memberParams(m.name, m.ip))
        const fresh = await waitFor(
          `${m.name} to serve its new certificate`,
          async () => {
            const pg = await servedCertificate(m.ip, 5432, { ca, postgres: true })
            const rest = await servedCertificate(m.ip, 8008, { ca, postgres: false })
            return pg.serialNumber !== old.serialNumber && rest.serialNumber === pg.serialNumber
              ? pg
              : undefined
          },
          { timeout: 30000, interval: 250 },
        )
        t.not(
          fresh.serialNumber,
          old.serialNumber,
          `${m.name}: PostgreSQL and the REST API serve the new certificate`,
        )
        await sleep(500)
      }
      await sleep(1000)
      await writer.stop()
      t.same(
        c.members.map((m) => [m.proc?.pid, pm(m)]),
        pids,
        'the same Patroni and postmaster processes: reloaded, not restarted',
      )
      const failed = writer.attempts - writer.acked.length
      t.comment(`rotation of 3 members under a write loop: ${writer.acked.length} writes, ${failed} failed`)
      t.ok(writer.acked.length > 20, 'the write loop ran throughout')
      t.equal(failed, 0, 'no write failed during the rotation')
      t.same((await writer.lost()).missing, [], 'every acknowledged write is on the leader')
      await c.waitFormed()
    })
  },
)
