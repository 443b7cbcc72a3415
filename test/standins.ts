// Recording stand-ins for what this Linux machine lacks: FreeBSD's sysrc(8), service(8), pw(8), su(1),
// daemon(8), the Consul CLI, and the Consul agent's HTTP API. The commands are small sh scripts on PATH
// that append their argv to calls.log and keep state in files, so `sysrc -n` reads back what was set and
// `service NAME status` tells whether the stand-in process of NAME runs. They serve the tests of the
// cook's own logic (what it calls, in which order, with which bounds). How FreeBSD itself runs the rc.d
// scripts, daemon(8) and the stop hook is tested in the jail view (test/jailview.ts), whose stand-ins
// copy the FreeBSD sources they name.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { sh } from '../cook/quote.js'
import { freebsd, STAND_IN_MARK, type FreeBsd } from '../cook/freebsd.js'
import { markStandIns, sealedEnv, toolsDir } from './sealed.js'

export interface StandIns {
  dir: string
  /** The stand-ins' paths, for freebsd({ commands }). */
  commands: { sysrc: string; service: string; consul: string }
  state: string
  /** The sealed environment of every stand-in call (test/sealed.ts). */
  env: Record<string, string | undefined>
  sys: FreeBsd
  /** Every stand-in call so far, one `command args...` line each. */
  calls(): string[]
  /** Calls of one command (`sysrc`, `service`, `consul`...). */
  callsOf(command: string): string[]
  rcConf(): Record<string, string>
  running(name: string): boolean
  /**
   * Next `service NAME ACTION` waits while the block exists; `blocked` tells when one is waiting, `pid` which
   * process waits (the cook runs each command in a process group of its own, led by that pid).
   */
  block(name: string, action: string): { release(): void; blocked(): boolean; pid(): number | undefined }
  /** `service NAME ACTION` fails with a message on stderr. */
  fail(name: string, action: string): void
  /** Kills every stand-in service process. */
  killAll(): void
}

export const SYSRC_BODY = `
# Stand-in for FreeBSD's sysrc(8): rc.conf is $STATE/rc.conf, one NAME=value line per variable.
printf 'sysrc %s\\n' "$*" >> "$LOG"
conf="$STATE/rc.conf"
touch "$conf"
quiet=
value_only=
while getopts qn opt; do
	case $opt in
	q) quiet=1 ;;
	n) value_only=1 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
for arg; do
	case $arg in
	*=*)
		name=\${arg%%=*}
		value=\${arg#*=}
		old=$(grep "^$name=" "$conf" | cut -d= -f2-)
		grep -v "^$name=" "$conf" > "$conf.new"
		printf '%s=%s\\n' "$name" "$value" >> "$conf.new"
		mv "$conf.new" "$conf"
		echo "$name: $old -> $value"
		;;
	*)
		if ! line=$(grep "^$arg=" "$conf"); then
			[ -n "$quiet" ] || echo "sysrc: unknown variable '$arg'" >&2
			exit 1
		fi
		if [ -n "$value_only" ]; then printf '%s\\n' "\${line#*=}"; else printf '%s: %s\\n' "$arg" "\${line#*=}"; fi
		;;
	esac
done
`

const SERVICE = `
# Stand-in for FreeBSD's service(8). A started service is a process in its own session (as daemon(8)
# makes it): for patroni a loopback HTTP responder on the address in $STATE/patroni.listen that answers
# /liveness, for the others a sleep. rc.subr's answers: start of a running service and stop of a stopped
# one fail; our patroni rc script answers "is not running." with status 0.
printf 'service %s\\n' "$*" >> "$LOG"
name=$1
action=$2
pidf="$STATE/$name.pid"
is_running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
if [ -e "$STATE/fail-$name-$action" ]; then
	echo "$name: $action failed (stand-in told to fail)" >&2
	exit 1
fi
while [ -e "$STATE/block-$name-$action" ]; do
	echo $$ > "$STATE/blocked-$name-$action"
	sleep 0.05
done
launch() {
	if [ "$name" = patroni ] && [ -f "$STATE/patroni.listen" ]; then
		read -r addr port < "$STATE/patroni.listen"
		setsid /usr/bin/python3 -m http.server "$port" --bind "$addr" --directory "$STATE/www" > /dev/null 2>&1 &
	else
		setsid sleep 100000 > /dev/null 2>&1 &
	fi
	echo $! > "$pidf"
}
halt() { kill "$(cat "$pidf")"; rm -f "$pidf"; }
case $action in
start | onestart)
	if is_running; then
		echo "$name already running? (pid=$(cat "$pidf"))." >&2
		exit 1
	fi
	echo "Starting $name."
	launch
	;;
stop | onestop)
	if ! is_running; then
		if [ "$name" = patroni ]; then echo "$name is not running."; exit 0; fi
		echo "$name not running? (check $pidf)." >&2
		exit 1
	fi
	echo "Stopping $name."
	halt
	;;
restart)
	if is_running; then halt; fi
	echo "Starting $name."
	launch
	;;
reload)
	if ! is_running; then
		echo "$name not running? (check $pidf)." >&2
		exit 1
	fi
	echo "Reloading $name."
	;;
status)
	if is_running; then echo "$name is running as pid $(cat "$pidf")."; else echo "$name is not running."; exit 1; fi
	;;
*)
	echo "$name: unknown action $action" >&2
	exit 1
	;;
esac
`

const CONSUL = `
# Stand-in for the Consul CLI: only \`consul leave\`, which stops the stand-in agent process.
printf 'consul %s\\n' "$*" >> "$LOG"
# The token, as hashicorp/consul api/api.go (DefaultConfig, NewClient) finds it: CONSUL_HTTP_TOKEN_FILE names
# a file read at start whose trimmed text is the token (unreadable: "Error loading token file", exit 1), and
# CONSUL_HTTP_TOKEN gives one directly. Recorded: where it came from, the file's mode and owner, its length.
if [ -n "\${CONSUL_HTTP_TOKEN_FILE:-}" ]; then
	if ! token=$(cat "$CONSUL_HTTP_TOKEN_FILE" 2> /dev/null); then
		echo "Error initializing client: Error loading token file: open $CONSUL_HTTP_TOKEN_FILE: no such file or directory" >&2
		exit 1
	fi
	printf 'consul-token file %s mode %s owner %s length %s\\n' "$CONSUL_HTTP_TOKEN_FILE" \\
		"$(stat -c %a "$CONSUL_HTTP_TOKEN_FILE")" "$(stat -c %u "$CONSUL_HTTP_TOKEN_FILE")" "\${#token}" >> "$LOG"
fi
[ -z "\${CONSUL_HTTP_TOKEN:-}" ] || printf 'consul-token environment length %s\\n' "\${#CONSUL_HTTP_TOKEN}" >> "$LOG"
pidf="$STATE/consul.pid"
if [ "$1" = leave ] && [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
	kill "$(cat "$pidf")"
	rm -f "$pidf"
	echo "Graceful leave complete"
	exit 0
fi
echo "Error leaving agent: Put \\"http://127.0.0.1:8500/v1/agent/leave\\": connection refused" >&2
exit 1
`

const RECORD_ONLY = `
# Stand-in that only records its call: the cook must not need it.
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$LOG"
`

/** What the stand-in scripts themselves call (`kill`, `printf`, `echo` and `read` are sh builtins). */
const STANDIN_TOOLS = ['grep', 'cut', 'mv', 'cat', 'rm', 'touch', 'sleep', 'setsid', 'basename', 'stat']

export function standIns(root: string): StandIns {
  const dir = join(root, 'standin-bin')
  const state = join(root, 'standin-state')
  mkdirSync(dir, { recursive: true })
  mkdirSync(join(state, 'www'), { recursive: true })
  writeFileSync(join(state, 'www', 'liveness'), 'ok\n')
  const log = join(state, 'calls.log')
  writeFileSync(log, '')
  const head = (name: string) =>
    `#!/bin/sh\n# ${STAND_IN_MARK}: the ${name} stand-in of the cook's tests\nLOG=${sh(log)}\nSTATE=${sh(state)}\n`
  const scripts: Record<string, string> = {
    sysrc: SYSRC_BODY,
    service: SERVICE,
    consul: CONSUL,
    pw: RECORD_ONLY,
    su: RECORD_ONLY,
    daemon: RECORD_ONLY,
  }
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), head(name) + body)
    chmodSync(join(dir, name), 0o755)
  }
  const commands = { sysrc: join(dir, 'sysrc'), service: join(dir, 'service'), consul: join(dir, 'consul') }
  // Sealed (test/sealed.ts): the stand-ins and the tools their scripts use, nothing of the machine's own.
  markStandIns(dir)
  const env = sealedEnv([dir, toolsDir(join(root, 'standin-tools'), STANDIN_TOOLS)])
  const calls = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
  const pidOf = (name: string) => {
    try {
      return Number(readFileSync(join(state, `${name}.pid`), 'utf8'))
    } catch {
      return undefined
    }
  }
  return {
    dir,
    state,
    env,
    commands,
    sys: freebsd({ env, commands }),
    calls,
    callsOf: (command) => calls().filter((l) => l.startsWith(`${command} `)),
    rcConf: () => {
      const path = join(state, 'rc.conf')
      if (!existsSync(path)) return {}
      return Object.fromEntries(
        readFileSync(path, 'utf8')
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      )
    },
    running: (name) => {
      const pid = pidOf(name)
      if (pid === undefined) return false
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    },
    block: (name, action) => {
      const file = join(state, `block-${name}-${action}`)
      writeFileSync(file, '')
      return {
        release: () => rmSync(file, { force: true }),
        blocked: () => existsSync(join(state, `blocked-${name}-${action}`)),
        pid: () => Number(readFileSync(join(state, `blocked-${name}-${action}`), 'utf8')) || undefined,
      }
    },
    fail: (name, action) => writeFileSync(join(state, `fail-${name}-${action}`), ''),
    killAll: () => {
      for (const f of readdirSync(state).filter((n) => n.endsWith('.pid'))) {
        const pid = pidOf(f.slice(0, -4))
        if (pid)
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // already gone
          }
      }
    },
  }
}

/** Where the patroni stand-in's /liveness responder listens (Patroni's REST API is MYIP:8008). */
export function listenPatroni(s: StandIns, addr: string, port = 8008): void {
  writeFileSync(join(s.state, 'patroni.listen'), `${addr} ${port}\n`)
}

export interface ConsulStandIn {
  url: string
  /** What /v1/status/leader answers; "" is an agent without a leader. */
  leader: string
  /** Keys that exist in the KV store (with their leading slash, as Patroni names them). */
  keys: Set<string>
  /** Values that `?raw` reads answer (Patroni's leader name and member data), by key. */
  values: Map<string, string>
  requests: string[]
  /** X-Consul-Token headers received (tests check the token went there and nowhere else). */
  tokens: string[]
  close(): Promise<void>
}

/** A loopback HTTP server standing in for the local Consul agent's HTTP API. */
export async function consulStandIn(leader = '10.0.0.2:8300'): Promise<ConsulStandIn> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/'
    standIn.requests.push(`${req.method} ${url}`)
    const token = req.headers['x-consul-token']
    if (typeof token === 'string') standIn.tokens.push(token)
    if (url === '/v1/status/leader') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(standIn.leader))
      return
    }
    if (url.startsWith('/v1/kv/') && url.endsWith('?raw')) {
      const value = standIn.values.get(decodeURI(url.slice('/v1/kv'.length, -'?raw'.length)))
      if (value === undefined) res.writeHead(404).end()
      else res.writeHead(200).end(value)
      return
    }
    if (url.startsWith('/v1/kv/')) {
      const key = decodeURI(url.slice('/v1/kv'.length))
      if (standIn.keys.has(key))
        res.writeHead(200).end(JSON.stringify([{ Key: key.slice(1), Value: 'MQ==' }]))
      else res.writeHead(404).end()
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const standIn: ConsulStandIn = {
    url: `http://127.0.0.1:${port}`,
    leader,
    keys: new Set(),
    values: new Map(),
    requests: [],
    tokens: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
  return standIn
}

/**
 * A sealed PATH whose only command is a su(1) that does what FreeBSD's `su -m USER -c CMD` does: CMD by
 * /bin/sh as USER, the environment kept. It drops the user for real (setpriv), for the end-to-end tests in
 * which the cook, as root, runs a rendered script as postgres (`cook status` reading the backup repository).
 */
export function realSuPath(dir: string): string {
  markStandIns(dir)
  writeFileSync(
    join(dir, 'su'),
    `#!/bin/sh
# ${STAND_IN_MARK}: FreeBSD's su -m USER -c CMD, as the end-to-end tests need it
[ "$#" -eq 4 ] && [ "$1" = -m ] && [ "$3" = -c ] || { echo "su stand-in: only su -m USER -c CMD" >&2; exit 64; }
exec /usr/bin/setpriv --reuid="$2" --regid="$2" --clear-groups /bin/sh -c "$4"
`,
    { mode: 0o755 },
  )
  return dir
}
