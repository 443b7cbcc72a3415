// What operators set, on one live three-member cluster shared by the scenarios in order: the application
// database (DBNAME), PostgreSQL parameters (PGPARAMS, MEMORY), member tags (NOLOADBALANCE on pg3, NOFAILOVER on
// pg2), and failsafe_mode both ways: the DCS gone with every member reachable (writes go on), and the leader cut
// off from its peers as well as from the DCS (it stops taking writes within ttl).
import t from 'tap'
import { clusterView, health } from '../../scripts/lib/patroni.js'
import { sleep } from '../../scripts/lib/procs.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { leaseTtl } from '../../scripts/lib/etcd.js'
import { since, startCluster } from './setup.js'

// TTL 20 with loop_wait 2 and retry_timeout 4: a leader cut off from everything demotes about 10 s after the
// cut (the next loop, the DCS retries, then two 2-s POST /failsafe attempts per peer), which with the fast
// profile's TTL of 10 would be a race against the TTL itself rather than a measurement.
const TTL_S = 20

t.test('operator parameters on a live cluster', async (t) => {
  const c = await startCluster(t, {
    scope: 'e2e-operator',
    block: '127.71',
    params: {
      DBNAME: 'app',
      MEMORY: '800',
      TTL: String(TTL_S),
      PGPARAMS: "work_mem=8MB max_connections=120 log_line_prefix='%m [%p] %q%u@%d '",
    },
    memberParams: [{}, { NOFAILOVER: 'on' }, { NOLOADBALANCE: 'on' }],
  })
  const [pg1, pg2, pg3] = c.members
  if (!pg1 || !pg2 || !pg3) throw new Error('three members expected')
  const { leader } = await c.waitFormed()
  t.equal(leader.name, 'pg1', 'the master member leads')
  await c.waitPrimaryRoute(leader)

  await t.test('DBNAME: admin owns the application database and creates tables in it', async (t) => {
    const app = { ...c.primaryConn('admin'), dbname: 'app' }
    await c.query(app, 'CREATE TABLE t (x int)')
    await c.query(app, 'INSERT INTO t VALUES (1), (2)')
    t.same(await c.query(app, 'SELECT sum(x) FROM t'), [['3']], 'admin writes and reads its own table')
    t.same(
      await c.query(c.primaryConn(), "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"),
      [['admin']],
      'the database belongs to admin',
    )
    // The starting point: PostgreSQL 15 gives nobody CREATE on the public schema of postgres.
    await t.rejects(
      c.query(c.primaryConn('admin'), 'CREATE TABLE t (x int)'),
      /permission denied for schema public/,
      'in the postgres database admin still cannot create tables',
    )
  })

  await t.test('PGPARAMS and MEMORY reach every member, each in its place', async (t) => {
    for (const m of c.members) {
      const rows = await c.query(
        c.memberConn(m),
        "SELECT current_setting('work_mem'), current_setting('max_connections'), current_setting('shared_buffers'), " +
          "current_setting('effective_cache_size'), current_setting('maintenance_work_mem'), current_setting('log_line_prefix')",
      )
      t.same(rows, [['8MB', '120', '200MB', '600MB', '64MB', '%m [%p] %q%u@%d ']], `${m.name}: the settings`)
    }
    // A read (GET): over HTTPS verified against the cluster's CA, no credentials needed.
    const dcs = JSON.parse((await c.rest(leader, 'GET', '/config', undefined, false)).text) as {
      failsafe_mode?: boolean
      postgresql?: { parameters?: Record<string, unknown> }
    }
    t.equal(String(dcs.postgresql?.parameters?.max_connections), '120', 'max_connections is in the DCS')
    t.notOk('work_mem' in (dcs.postgresql?.parameters ?? {}), 'work_mem is local, not in the DCS')
    t.equal(dcs.failsafe_mode, true, 'failsafe_mode is on in the DCS')
  })

  await t.test("NOLOADBALANCE: pg3 answers 503 on /replica and leaves HAProxy's :5001", async (t) => {
    t.equal(await health(pg3.restUrl, '/replica', c.tls?.client), 503, 'pg3 /replica')
    t.equal(await health(pg2.restUrl, '/replica', c.tls?.client), 200, 'pg2 /replica')
    const servedBy = async () => {
      const seen = new Set<string>()
      for (let i = 0; i < 12; i++)
        seen.add((await c.query(c.replicaConn(), 'SELECT host(inet_server_addr())'))[0]?.[0] ?? '')
      return [...seen].sort()
    }
    // HAProxy needs two failed checks to drop a server it started with as up.
    await waitFor('HAProxy :5001 to serve from pg2 only', async () => (await servedBy()).join() === pg2.ip, {
      timeout: 20000,
      interval: 250,
    })
    t.same(await servedBy(), [pg2.ip], 'a dozen connections to :5001 all reach pg2')
  })

  await t.test('FAILSAFE, DCS gone, every member reachable: the leader keeps taking writes', async (t) => {
    await c.query(
      c.primaryConn(),
      'CREATE TABLE failsafe (id serial PRIMARY KEY, at timestamptz DEFAULT now())',
    )
    await c.stopEtcd()
    const t0 = Date.now()
    let writes = 0
    let failsafeSeen = false
    // Over a minute: three times the TTL, so the leader key expired long ago.
    while (Date.now() - t0 < 65000) {
      await c.query(c.primaryConn(), 'INSERT INTO failsafe DEFAULT VALUES')
      writes++
      if (!failsafeSeen) {
        const status = JSON.parse((await c.rest(leader, 'GET', '/patroni', undefined, false)).text) as {
          failsafe_mode_is_active?: boolean
        }
        failsafeSeen = status.failsafe_mode_is_active === true
      }
      await sleep(250)
    }
    t.comment(`${writes} writes through :5000 in ${since(t0)} without the DCS, every one accepted`)
    t.ok(failsafeSeen, 'Patroni reported failsafe_mode_is_active on the leader')
    await c.startEtcd()
    await waitFor(
      'the leader key to be back in etcd',
      async () => (await c.leaderKey())?.value === leader.name,
      {
        timeout: 30000,
        interval: 250,
      },
    )
    t.same(
      await c.query(c.primaryConn(), 'SELECT count(*) FROM failsafe'),
      [[String(writes)]],
      'nothing lost: every acknowledged write is there',
    )
    const { leader: after } = await c.waitFormed()
    t.equal(after.name, leader.name, 'the same leader, the replicas streaming again')
  })

  await t.test(
    'FAILSAFE, the leader cut off from its peers and the DCS: it stops taking writes within ttl',
    async (t) => {
      // The leader's lease as the cut begins: no other member could lead before it runs out.
      const key = await c.leaderKey()
      const lease = key ? await leaseTtl(c.etcd!, key.lease) : 0
      c.freeze(pg2, true)
      c.freeze(pg3, true)
      await c.stopEtcd()
      const t0 = Date.now()
      let refused = ''
      while (Date.now() - t0 < 3 * TTL_S * 1000) {
        try {
          await c.query({ ...c.memberConn(leader), dbname: 'app' }, 'INSERT INTO t VALUES (0)')
        } catch (e) {
          refused = (e as Error).message
          break
        }
        await sleep(100)
      }
      const took = (Date.now() - t0) / 1000
      t.comment(
        `the leader stopped taking writes ${took.toFixed(1)} s after the DCS went away: ${refused.split('\n')[0]}`,
      )
      t.ok(refused !== '', 'the leader refused a write')
      t.ok(took <= TTL_S, `within ttl (${TTL_S} s)`)
      t.ok(took < lease, `before its leader lease would have run out (${lease} s left at the cut)`)
      c.freeze(pg2, false)
      c.freeze(pg3, false)
      await c.startEtcd()
      await c.waitFormed()
    },
  )

  await t.test('NOFAILOVER: pg2 is never promoted when the leader dies', async (t) => {
    const { leader: old } = await c.waitFormed()
    await c.waitPrimaryRoute(old)
    const roles = new Set<string>()
    let watching = true
    const watch = (async () => {
      while (watching) {
        try {
          const me = (await clusterView(pg2.restUrl, c.tls?.client)).members.find((m) => m.name === pg2.name)
          if (me) roles.add(me.role)
        } catch {
          // pg2's API may be busy for a moment; the next look counts
        }
        await sleep(200)
      }
    })()
    const t0 = Date.now()
    await c.kill(old)
    const next = await c.waitNewLeader(old)
    t.comment(`leader ${old.name} killed -> ${next.name} leads after ${since(t0)}`)
    await sleep(3000)
    watching = false
    await watch
    t.not(next.name, pg2.name, 'the new leader is not pg2')
    t.same(
      [...roles].filter((r) => r !== 'replica'),
      [],
      `pg2 was only ever a replica (${[...roles].join(', ')})`,
    )
  })
})
