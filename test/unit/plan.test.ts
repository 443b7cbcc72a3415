// plan(): what each file holds, read back by its real parser; secrets round-trip through every file;
// shell scripts pass shellcheck; patroni --validate-config accepts patroni.yml.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { CookError } from '../../cook/errors.js'
import { JAIL_LAYOUT, PATHS, type Layout } from '../../cook/layout.js'
import { NEWSYSLOG_CONF, NEWSYSLOG_CRON, userNewsyslogConf } from '../../cook/newsyslog.js'
import { validate, type Params } from '../../cook/params.js'
import { consulView, patroniView, plan, type Plan } from '../../cook/plan.js'
import { renderTemplate } from '../../cook/render.js'
import { scramMatches } from '../../cook/secrets.js'
import { verifyPlan } from '../../cook/verify.js'
import { basicEnv, tempDir } from '../helpers.js'
import { hcl2json, HOSTILE, label, LINE_BREAKS, longEnough, pyyaml, yaml11 } from '../hostile.js'
import { PG_BIN } from '../pg.js'

// basic.env says CONSULACL=off; a case that gives a Consul token means ACLs on.
const params = (over: Record<string, string> = {}, allowLoopback = false): Params =>
  validate(
    { ...basicEnv(), ...('CONSULTOKEN' in over ? { CONSULACL: 'on' } : {}), ...over },
    { allowLoopback },
  )

const content = (pl: Plan, path: string): string => {
  const file = pl.files.find((f) => f.path === path)
  if (!file) throw new Error(`${path} is not in the plan`)
  return file.content
}

type Yaml = Record<string, Record<string, unknown> & Record<string, Record<string, unknown>>>
const patroniYml = (pl: Plan): Yaml => pyyaml([content(pl, PATHS.patroniYml)])[0] as Yaml

t.test('files, owners and modes', async (t) => {
  const pl = plan(params())
  t.same(
    pl.files.map((f) => [f.path, f.mode.toString(8), f.owner]),
    [
      [PATHS.patroniYml, '600', 'postgres'],
      [PATHS.postBootstrap, '750', 'postgres'],
      [PATHS.adminRoleSql, '600', 'postgres'],
      [PATHS.monitorRoleSql, '600', 'postgres'],
      [PATHS.rcPatroni, '755', 'root'],
      [PATHS.exporterEnv, '644', 'root'],
      [PATHS.rcPgExporter, '755', 'root'],
      [PATHS.exporterPass, '600', 'pgmonitor'],
      // Each exporter's web config (bcrypt hash of METRICSPASS) only for its own user (TLS=off here).
      [PATHS.nodeExporterWeb, '600', 'nodeexport'],
      [PATHS.exporterWeb, '600', 'pgmonitor'],
      [PATHS.consulAgent, '640', 'consul'],
      [NEWSYSLOG_CONF, '644', 'root'],
      [userNewsyslogConf('postgres'), '644', 'root'],
      [userNewsyslogConf('nodeexport'), '644', 'root'],
      [NEWSYSLOG_CRON, '644', 'root'],
    ],
  )
  t.same(
    pl.dirs.find((d) => d.path === PATHS.dataDir),
    { path: '/mnt/postgres/data', mode: 0o700, owner: 'postgres' },
  )
  t.same(pl.services, ['syslogd', 'consul', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'])
  t.same(pl.rcConf, {
    patroni_enable: 'YES',
    patroni_config: PATHS.patroniYml,
    patroni_stop_timeout: '25',
    node_exporter_enable: 'YES',
    node_exporter_user: 'nodeexport',
    node_exporter_group: 'nodeexport',
    node_exporter_listen_address: '10.0.0.11:9100',
    // The port's script appends node_exporter_args to the exporter's arguments, and rc.subr puts
    // node_exporter_flags before the script's own daemon(8) flags: output to a file, not to syslog.
    node_exporter_args: '--web.config.file=/usr/local/etc/node_exporter/web.yml',
    node_exporter_flags:
      '-H -o /var/log/node_exporter/node_exporter.log -P /var/run/node_exporter/daemon.pid',
    // The port's rc script passes it as --collector.textfile.directory (the cook's certificate metrics).
    node_exporter_textfile_dir: '/var/tmp/node_exporter',
    postgres_exporter_enable: 'YES',
    postgres_exporter_user: 'pgmonitor',
    postgres_exporter_listen_address: '10.0.0.11:9187',
    postgres_exporter_env_file: '/usr/local/etc/postgres_exporter/env',
    postgres_exporter_web_config: '/usr/local/etc/postgres_exporter/web.yml',
    // The base system's: cron runs newsyslog (and the backups), syslogd takes what cron logs.
    syslogd_enable: 'YES',
    cron_enable: 'YES',
    consul_enable: 'YES',
    // sysutils/consul's rc script: -data-dir=${consul_datadir}, the agent.hcl's data_dir too.
    consul_datadir: '/var/db/consul',
  })
  const etcd = plan(params({ DCS: 'etcd', ETCDHOSTS: '10.0.0.2,10.0.0.3,10.0.0.4' }))
  t.notOk(
    etcd.files.some((f) => f.section === 'consul'),
    'no Consul agent with etcd',
  )
  t.notOk(etcd.dirs.some((d) => d.owner === 'consul'))
  t.same(etcd.services, ['syslogd', 'patroni', 'node_exporter', 'postgres_exporter', 'cron'])
  t.notOk('consul_enable' in etcd.rcConf)
  for (const pl2 of [pl, etcd]) t.notOk('postgresql_enable' in pl2.rcConf, 'Patroni starts PostgreSQL')
})

t.test('patroni.yml as Patroni reads it', async (t) => {
  const y = patroniYml(plan(params({ CONSULTOKEN: 'tok-1' })))
  t.equal(y.scope, 'postgresql')
  t.equal(y.name, 'pg1')
  const base = params({ CONSULTOKEN: 'tok-1' })
  t.same(y.restapi, {
    listen: '10.0.0.11:8008',
    connect_address: '10.0.0.11:8008',
    authentication: { username: 'patroni', password: base.RESTPASS },
    allowlist: ['10.0.0.0/24', '10.0.0.11/32'],
    allowlist_include_members: true,
  })
  t.same(y.ctl, { insecure: false }, 'patronictl verifies (no CA to name with TLS=off)')
  t.same(y.consul, {
    host: '127.0.0.1:8500',
    register_service: true,
    service_check_interval: '15s',
    token: 'tok-1',
  })
  t.notOk('etcd3' in y)
  const dcs = y.bootstrap?.dcs as Record<string, unknown> & {
    postgresql: Record<string, Record<string, unknown>>
  }
  t.same([dcs.ttl, dcs.loop_wait, dcs.retry_timeout, dcs.maximum_lag_on_failover], [30, 10, 10, 1048576])
  t.same([dcs.synchronous_mode, dcs.synchronous_mode_strict], [false, false])
  t.notOk('standby_cluster' in dcs)
  t.same([dcs.postgresql.use_pg_rewind, dcs.postgresql.use_slots], [true, true])
  const pgParams = dcs.postgresql.parameters ?? {}
  t.equal(pgParams.hot_standby, 'on', 'a string, not a YAML 1.1 boolean')
  t.equal(pgParams.password_encryption, 'scram-sha-256')
  t.ok(Number(pgParams.superuser_reserved_connections) >= 3, 'Patroni can always connect')
  t.same(y.bootstrap?.initdb, [
    { encoding: 'UTF8' },
    { locale: 'C.UTF-8' },
    'data-checksums',
    { 'auth-local': 'scram-sha-256' },
    { 'auth-host': 'scram-sha-256' },
  ])
  t.equal(y.bootstrap?.post_bootstrap, PATHS.postBootstrap)
  const pg = y.postgresql as Record<string, unknown> & {
    authentication: Record<string, Record<string, string>>
  }
  t.same([pg.listen, pg.connect_address], ['10.0.0.11:5432', '10.0.0.11:5432'])
  t.same([pg.data_dir, pg.bin_dir], ['/mnt/postgres/data', '/usr/local/bin'])
  t.notMatch(pg.pgpass, /^\/tmp\//, 'pgpass outside /tmp')
  t.same(
    Object.entries(pg.authentication).map(([k, v]) => [k, v.username]),
    [
      ['superuser', 'postgres'],
      ['replication', 'replicator'],
      ['rewind', 'rewinder'],
    ],
  )
  t.equal(pg.authentication.superuser?.password, 'kek-Secret-2-basic-env')
  for (const hba of [pg.pg_hba, y.bootstrap?.pg_hba] as string[][]) {
    t.ok(
      hba.every((l) => l.endsWith(' scram-sha-256') || l.endsWith(' reject')),
      'scram-sha-256 only, or reject',
    )
    t.notOk(
      hba.some((l) => /\b(md5|trust|password)\b|0\.0\.0\.0\/0|::\/0/.test(l)),
      'no md5, trust or world',
    )
    t.same(
      hba.filter((l) => / replication /.test(l)),
      [
        'local replication replicator scram-sha-256',
        'host replication replicator 10.0.0.0/24 scram-sha-256',
        'host replication all all reject',
      ],
    )
  }
})

t.test('patroni.yml variants: etcd, sync modes, standby, IPv6, several networks', async (t) => {
  const etcd = patroniYml(plan(params({ DCS: 'etcd', ETCDHOSTS: 'etcd1,10.0.0.3:2380,2001:db8::4' })))
  t.same(etcd.etcd3, { hosts: ['etcd1:2379', '10.0.0.3:2380', '[2001:db8::4]:2379'] })
  t.notOk('consul' in etcd)
  const viaProxy = (over: Record<string, string>) =>
    patroniYml(plan(params({ DCS: 'etcd', ...over }))).etcd3 as Record<string, unknown>
  t.same(
    viaProxy({ ETCDPROXY: '127.0.0.1:23790' }),
    { proxy: 'http://127.0.0.1:23790' },
    'ETCDPROXY: the proxy only, as a URL Patroni reads',
  )
  t.same(
    viaProxy({ ETCDHOSTS: '10.0.0.2', ETCDPROXY: 'http://[::1]:23790' }),
    { proxy: 'http://[::1]:23790' },
    'the proxy wins over ETCDHOSTS, which Patroni would ignore anyway',
  )
  t.notOk('token' in (patroniYml(plan(params())).consul ?? {}), 'no token unless given')
  const mode = (m: string) => {
    const d = patroniYml(plan(params({ SYNCMODE: m }))).bootstrap?.dcs as Record<string, unknown>
    return [d.synchronous_mode, d.synchronous_mode_strict]
  }
  t.same(mode('off'), [false, false])
  t.same(mode('on'), [true, false])
  t.same(mode('strict'), [true, true])
  const standby = patroniYml(
    plan(params({ SERVICETAG: 'standby-leader', STANDBYHOST: '[2001:db8::9]:6432' })),
  )
  t.same((standby.bootstrap?.dcs as Record<string, unknown>).standby_cluster, {
    host: '2001:db8::9',
    port: 6432,
    primary_slot_name: 'standby_postgresql',
    create_replica_methods: ['basebackup'],
  })
  const replica = patroniYml(plan(params({ SERVICETAG: 'replica', STANDBYHOST: '10.1.0.11' })))
  t.notOk('standby_cluster' in (replica.bootstrap?.dcs ?? {}), 'only the standby leader bootstraps a standby')
  const v6 = patroniYml(
    plan(
      params({ MYIP: '2001:db8::11', ALLOWNETS: '2001:db8::/64 10.0.0.0/24', MEMBERNETS: '2001:db8::/120' }),
    ),
  )
  t.match(v6.restapi, { listen: '[2001:db8::11]:8008', connect_address: '[2001:db8::11]:8008' })
  t.same(v6.restapi?.allowlist, ['2001:db8::/120', '2001:db8::11/128'], 'unsafe REST calls: members only')
  t.equal(v6.postgresql?.listen, '[2001:db8::11]:5432')
  t.same(
    (v6.postgresql?.pg_hba as unknown as string[]).filter((l) => l.startsWith('host ')),
    [
      'host replication replicator 2001:db8::/120 scram-sha-256',
      'host all postgres,rewinder 2001:db8::/120 scram-sha-256',
      'host replication all all reject',
      'host all postgres,replicator,rewinder,monitor all reject',
      'host all all 2001:db8::/64 scram-sha-256',
      'host all all 10.0.0.0/24 scram-sha-256',
    ],
  )
  const timing = patroniYml(plan(params({ TTL: '40', LOOPWAIT: '5', RETRYTIMEOUT: '12', MAXLAG: '0' })))
  const d = timing.bootstrap?.dcs as Record<string, unknown>
  t.same([d.ttl, d.loop_wait, d.retry_timeout, d.maximum_lag_on_failover], [40, 5, 12, 0])
})

t.test('agent.hcl as an HCL parser reads it', async (t) => {
  const a = await hcl2json(content(plan(params()), PATHS.consulAgent))
  t.same(
    [a.datacenter, a.node_name, a.data_dir, a.server, a.bind_addr, a.advertise_addr, a.client_addr],
    ['dc1', 'pg1', '/var/db/consul', false, '10.0.0.11', '10.0.0.11', '127.0.0.1'],
  )
  t.same(a.retry_join, ['10.0.0.2', '10.0.0.3', '10.0.0.4'])
  t.notOk('start_join' in a, 'not the deprecated start_join')
  t.equal(a.encrypt, 'cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc=')
  t.equal(a.log_file, '/var/log/consul/consul.log')
  t.notOk('acl' in a, 'no ACL block without a token')
  // What Prometheus's consul_sd finds: each with the scope/member metadata the alert rules join on.
  const meta = [{ scope: 'postgresql', member: 'pg1' }]
  t.same(a.service, [
    {
      name: 'node-exporter',
      port: 9100,
      address: '10.0.0.11',
      tags: ['postgresql', 'pg1'],
      meta,
      // TCP: every HTTP path of the exporter asks for METRICSPASS, which stays out of Consul's catalog.
      check: [{ tcp: '10.0.0.11:9100', interval: '30s', timeout: '5s' }],
    },
    {
      name: 'patroni-api',
      port: 8008,
      address: '10.0.0.11',
      tags: ['postgresql', 'pg1'],
      meta: [{ ...meta[0], sync_mode: 'off' }],
      check: [{ http: 'http://10.0.0.11:8008/liveness', interval: '15s', timeout: '5s' }],
    },
    {
      name: 'postgres-exporter',
      port: 9187,
      address: '10.0.0.11',
      tags: ['postgresql', 'pg1'],
      meta,
      check: [{ tcp: '10.0.0.11:9187', interval: '30s', timeout: '5s' }],
    },
  ])
  const sync = await hcl2json(content(plan(params({ SYNCMODE: 'strict' })), PATHS.consulAgent))
  t.equal(
    (sync.service as { meta: { sync_mode: string }[] }[])[1]?.meta[0]?.sync_mode,
    'strict',
    'SYNCMODE reaches the patroni-api service as metadata (the sync_mode label)',
  )
  const token = '5f4a1c2e-9b1d-4c7a-8e2f-3a6b7c8d9e0f'
  const withToken = plan(params({ CONSULTOKEN: token }))
  const acl = await hcl2json(content(withToken, PATHS.consulAgent))
  t.same(
    acl.acl,
    [{ enabled: true, default_policy: 'deny', enable_token_persistence: true, tokens: [{ agent: token }] }],
    'no default token: an anonymous request to 127.0.0.1:8500 gets no KV-write token',
  )
  t.same(
    (acl.service as { name: string; token: string }[]).map((svc) => [svc.name, svc.token]),
    [
      ['node-exporter', token],
      ['patroni-api', token],
      ['postgres-exporter', token],
    ],
    "each service of the file carries the agent's token (Consul syncs them with it, not the default one)",
  )
  t.equal(patroniYml(withToken).consul?.token, token, 'Patroni sends its own token')
  const leave = withToken.files.find((f) => f.path === PATHS.consulLeaveToken)
  t.match(
    leave,
    { content: `${token}\n`, mode: 0o600, owner: 'root' },
    "consul leave's token file: root's alone",
  )
  // A separate agent token keeps Patroni's KV-write token out of the consul user's file.
  const split = plan(params({ CONSULTOKEN: token, CONSULAGENTTOKEN: 'agent-tok-1' }))
  const splitAgent = content(split, PATHS.consulAgent)
  t.notOk(splitAgent.includes(token), "agent.hcl does not hold Patroni's token")
  t.same((await hcl2json(splitAgent)).acl, [
    {
      enabled: true,
      default_policy: 'deny',
      enable_token_persistence: true,
      tokens: [{ agent: 'agent-tok-1' }],
    },
  ])
  t.equal(patroniYml(split).consul?.token, token)
  t.equal(split.files.find((f) => f.path === PATHS.consulLeaveToken)?.content, 'agent-tok-1\n')
  const off = plan(params())
  t.notOk((await hcl2json(content(off, PATHS.consulAgent))).acl, 'CONSULACL=off: no acl block')
  t.notOk(
    off.files.some((f) => f.path === PATHS.consulLeaveToken),
    'and no token file',
  )
  const v6 = await hcl2json(
    content(
      plan(params({ MYIP: '2001:db8::11', CONSULSERVERS: '2001:db8::2 c2.example 10.0.0.4' })),
      PATHS.consulAgent,
    ),
  )
  t.same(v6.retry_join, ['[2001:db8::2]', 'c2.example', '10.0.0.4'], 'IPv6 in brackets, as Consul wants')
  t.equal(v6.bind_addr, '2001:db8::11')
})

t.test('hostile secrets round-trip through patroni.yml, agent.hcl and admin-role.sql', async (t) => {
  const base = params()
  // Values the schema accepts go through validate(); line breaks (refused for pgpass-bound passwords) and
  // tokens outside the token alphabet are given to plan() directly, to prove the templates alone.
  const cases: Params[] = [
    // KEKPASS has a minimum length: a shorter trap is repeated (longEnough), as are the other passwords.
    // MONPASS and RESTPASS are given: deriving them costs a scrypt per KEKPASS and proves nothing here.
    ...HOSTILE.map((v) => ({
      ...params({
        KEKPASS: longEnough(v),
        REPPASS: longEnough(v),
        REWINDPASS: longEnough(`${v}-w`),
        MONPASS: 'm0n-Secret-long-enough',
        RESTPASS: 'rest-Secret-long-enough',
      }),
      CONSULACL: 'on' as const,
      CONSULTOKEN: v,
      GOSSIPKEY: v,
    })),
    ...LINE_BREAKS.map((v) => ({
      ...base,
      CONSULACL: 'on' as const,
      KEKPASS: v,
      REPPASS: `r${v}`,
      REWINDPASS: `w${v}`,
      CONSULTOKEN: v,
      GOSSIPKEY: v,
    })),
  ]
  const hclRefuses = (v: string) => /[$%]\{/.test(v)
  const docs = cases.map((p) => renderTemplate('patroni.yml', patroniView(p, JAIL_LAYOUT)))
  const parsed = pyyaml(docs) as Yaml[]
  for (const [i, p] of cases.entries()) {
    const name = label(p.KEKPASS)
    for (const y of [parsed[i], yaml11(docs[i] ?? '') as Yaml]) {
      const auth = y?.postgresql?.authentication as Record<string, Record<string, string>>
      t.same(
        [auth.superuser?.password, auth.replication?.password, auth.rewind?.password, y?.consul?.token],
        [p.KEKPASS, p.REPPASS, p.REWINDPASS, p.CONSULTOKEN],
        `patroni.yml: ${name}`,
      )
    }
  }
  const hclCases = cases.filter((p) => p.CONSULTOKEN !== undefined && !hclRefuses(p.CONSULTOKEN))
  t.ok(hclCases.length > 60, 'most values reach agent.hcl')
  const agents = hclCases.map((p) => renderTemplate('consul-agent.hcl', consulView(p, JAIL_LAYOUT)))
  for (const [i, p] of hclCases.entries()) {
    const a = await hcl2json(agents[i] ?? '')
    const tokens = (a.acl as { tokens: Record<string, string>[] }[])[0]?.tokens[0]
    t.same(
      [a.encrypt, tokens?.agent, tokens?.default, ...(a.service as { token: string }[]).map((x) => x.token)],
      [p.GOSSIPKEY, p.CONSULTOKEN, undefined, p.CONSULTOKEN, p.CONSULTOKEN, p.CONSULTOKEN],
      label(p.KEKPASS),
    )
  }
  for (const v of ['${x}', '%{x}', 'a${b}c'])
    t.throws(
      () => plan({ ...base, CONSULACL: 'on', CONSULTOKEN: v }),
      /cannot be written in an HCL 1 string/,
      'refused, not mangled',
    )
  // ADMPASS reaches admin-role.sql only as a verifier: PostgreSQL logs in with it in postgres.test.ts.
  const admpass = longEnough(HOSTILE[0] ?? '')
  const sql = plan(params({ ADMPASS: admpass })).files.find((f) => f.path === PATHS.adminRoleSql)
  t.ok(scramMatches(/'(SCRAM-SHA-256[^']+)'/.exec(sql?.content ?? '')?.[1] ?? '', admpass))
})

t.test('verifyPlan stops on YAML that does not parse', async (t) => {
  const pl = plan(params())
  t.doesNotThrow(() => verifyPlan(pl))
  const broken = {
    ...pl,
    files: pl.files.map((f) => (f.format === 'yaml' ? { ...f, content: 'a: [\n' } : f)),
  }
  t.throws(() => verifyPlan(broken), CookError)
  const dup = {
    ...pl,
    files: pl.files.map((f) => (f.format === 'yaml' ? { ...f, content: 'a: 1\na: 2\n' } : f)),
  }
  t.throws(() => verifyPlan(dup), /patroni\.yml/)
})

t.test('every shell script passes shellcheck -s sh and sh -n, with paths that need quoting', async (t) => {
  const dir = tempDir(t)
  const layouts: Layout[] = [
    JAIL_LAYOUT,
    { ...JAIL_LAYOUT, base: join(dir, "it's a dir"), pgBinDir: '/opt/pg 15/bin' },
  ]
  let n = 0
  for (const layout of layouts)
    // The second variant also runs post-bootstrap.sh's DBNAME part.
    for (const over of [{}, { DCS: 'etcd', ETCDHOSTS: '10.0.0.2', DBNAME: 'app' }] as Record<
      string,
      string
    >[])
      for (const file of plan(params(over), layout).files.filter((f) => f.format === 'sh')) {
        const path = join(dir, `script-${n++}`)
        writeFileSync(path, file.content)
        const sc = spawnSync('shellcheck', ['-s', 'sh', path], { encoding: 'utf8' })
        t.equal(sc.status, 0, `shellcheck ${file.path}: ${sc.stdout}`)
        const syntax = spawnSync('/bin/sh', ['-n', path], { encoding: 'utf8' })
        t.equal(syntax.status, 0, `sh -n ${file.path}: ${syntax.stderr}`)
      }
  t.equal(
    n,
    16,
    "post-bootstrap.sh, rc.d/patroni, rc.d/postgres_exporter and postgres_exporter's env file, in each layout",
  )
  t.match(
    content(plan(params({ DBNAME: 'app' })), PATHS.postBootstrap),
    /-f '\/usr\/local\/etc\/patroni\/app-database\.sql'$/m,
  )
  t.notMatch(content(plan(params()), PATHS.postBootstrap), /app-database/, 'no DBNAME, no database')
  const rc = content(plan(params()), PATHS.rcPatroni)
  t.match(rc, /^# PROVIDE: patroni$/m)
  t.match(rc, /^# REQUIRE: LOGIN consul$/m)
  t.match(rc, /^# KEYWORD: shutdown$/m)
  t.match(rc, /^rcvar="patroni_enable"$/m)
  t.match(
    rc,
    /daemon -f -R "\$patroni_restart_delay" [^]*-P "\$supervisor_pidfile" -p "\$pidfile" [^]*-u "\$patroni_user"/,
  )
  // No -o and no -H: Patroni's output is a file its own shell opens, never daemon(8)'s pipe.
  t.notMatch(rc, /daemon [^\n]*-[oH] /)
  t.match(rc, /exec "\$@" >> "\$out" 2>&1/)
  t.match(rc, /extra_commands="reload configtest list"/)
  t.match(
    content(plan(params({ DCS: 'etcd', ETCDHOSTS: '10.0.0.2' })), PATHS.rcPatroni),
    /^# REQUIRE: LOGIN$/m,
  )
})

/** Listens on 127.0.0.1:port unless something already does (which validate-config accepts as well). */
async function listen(t: { teardown: (fn: () => void) => void }, port: number): Promise<number> {
  const server: Server = createServer((s) => s.destroy())
  const bound = await new Promise<number | undefined>((resolve) => {
    server.once('error', () => resolve(undefined))
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address()
      resolve(typeof addr === 'object' && addr ? addr.port : undefined)
    })
  })
  if (bound !== undefined) t.teardown(() => server.close())
  return bound ?? port
}

t.test('patroni --validate-config accepts patroni.yml (etcd and consul)', async (t) => {
  const dir = tempDir(t)
  const etcdPort = await listen(t, 0)
  await listen(t, 8500)
  // Patroni 3.0.2 refuses loopback connect addresses only as the literal 127.0.0.1, and checks that the
  // listen ports are free and the DCS answers: a 127.0.0.x address and local listeners satisfy it.
  const myip = `127.0.0.${100 + (process.pid % 100)}`
  const layout = { ...JAIL_LAYOUT, pgBinDir: PG_BIN }
  const variants: [string, Record<string, string>][] = [
    [
      'consul, synchronous, with a token and every operator setting',
      {
        ...{ SYNCMODE: 'strict', CONSULTOKEN: 'tok', SERVICETAG: 'replica', NOFAILOVER: 'on', NOSYNC: 'on' },
        ...{ NOLOADBALANCE: 'on', REPLICATEFROM: 'pg2', DBNAME: 'app', MEMORY: '4096', FAILSAFE: 'off' },
        SLOTS: 'standby_dr sub:logical:app',
        PGPARAMS: "wal_level=logical max_connections=200 work_mem=16MB log_line_prefix='%m [%p] '",
      },
    ],
    [
      'etcd, a standby leader',
      {
        ...{ DCS: 'etcd', ETCDHOSTS: `127.0.0.1:${etcdPort}`, TTL: '10', LOOPWAIT: '2', RETRYTIMEOUT: '4' },
        ...{ SERVICETAG: 'standby-leader', STANDBYHOST: '10.1.0.11' },
      },
    ],
    [
      'etcd through a local proxy',
      { DCS: 'etcd', ETCDPROXY: `127.0.0.1:${etcdPort}`, TTL: '10', LOOPWAIT: '2', RETRYTIMEOUT: '4' },
    ],
  ]
  for (const [name, over] of variants) {
    const path = join(dir, `${name}.yml`)
    writeFileSync(path, content(plan(params({ MYIP: myip, ...over }, true), layout), PATHS.patroniYml))
    const r = spawnSync('patroni', ['--validate-config', path], { encoding: 'utf8' })
    // Patroni 3.0.2 reports a port some other process here happens to use: the one false positive left.
    const real = `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => l !== '' && !/Port \d+ is already in use/.test(l))
    t.same(real, [], `${name}: ${r.stdout}${r.stderr}`)
  }
})
