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
  /** The jail's rc.conf (under its root), as sysrc(8) writes it. */
  rcConfPath: string
  /** Its name="value" lines: the text between the quotes, as stored (sh reads it back, see sysrc). */
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

/** The one sysrc(8) stand-in (its header names the FreeBSD source it copies); every test installs this file. */
export const SYSRC_STANDIN = readFileSync(new URL('./fixtures/jail-bin/sysrc', import.meta.url), 'utf8')

/**
 * /etc/defaults/rc.conf, the lines of FreeBSD's libexec/rc/rc.conf (freebsd/freebsd-src, commit
 * 0216ab4d7364eac583febfc6b956a5acd05a1aeb) that the jail's services and sysrc(8) read, and its
 * source_rc_confs; `rcConfFiles` is rc_conf_files (the jail's /etc/rc.conf, rebased for a unit test).
 */
export function defaultsRcConf(rcConfFiles: string): string {
  return `#!/bin/sh
# A stand-in: the part of FreeBSD's /etc/defaults/rc.conf the jail relies on.
local_startup="/usr/local/etc/rc.d"
rc_conf_files="${rcConfFiles}"
syslogd_enable="YES"
syslogd_program="/usr/sbin/syslogd"
syslogd_flags="-s"
cron_enable="YES"
cron_program="/usr/sbin/cron"
cron_dst="YES"
cron_flags=""
newsyslog_enable="YES"
newsyslog_flags="-CN"
if [ -z "\${source_rc_confs_defined}" ]; then
	source_rc_confs_defined=yes
	source_rc_confs() {
		local i sourced_files
		for i in \${rc_conf_files}; do
			case \${sourced_files} in
			*:$i:*)
				;;
			*)
				sourced_files="\${sourced_files}:$i:"
				if [ -r $i ]; then
					. $i
				fi
				;;
			esac
		done
	}
fi
`
}

/**
 * What the packages and the base system install in rc.d, as far as service(8) and rc.subr read it before
 * acting: the declarations of each script (name, rcvar, extra_commands, procname/command, status_cmd),
 * copied from freebsd/freebsd-ports sysutils/consul/files/consul.in (commit f695497dc405c24abfc1cebb5b5e84d988134d1b),
 * sysutils/node_exporter/files/node_exporter.in (commit 834413067178ec0f2d3aa30cc0a6eb26c3938eab),
 * databases/postgres_exporter's rc script (the shape test/jail-standins.ts copies), freebsd/freebsd-src
 * libexec/rc/rc.d/cron (commit d28066d8954abdb40fd85d92c65b3780b41b7dd8) and libexec/rc/rc.d/syslogd (commit
 * 90dac7dfe7b9c49e28df45dbee8b4811cd5fb293). Patroni's is the one the cook renders into the jail's root.
 */
export const PACKAGED_RC_HEADS: Record<string, string> = {
  consul:
    'name=consul\nrcvar=consul_enable\nextra_commands="reload"\nprocname="/usr/local/bin/consul"\ncommand="/usr/sbin/daemon"\n',
  node_exporter:
    'name=node_exporter\nrcvar=node_exporter_enable\ncommand="/usr/sbin/daemon"\nprocname="/usr/local/bin/node_exporter"\n',
  postgres_exporter:
    'name=postgres_exporter\nrcvar=postgres_exporter_enable\ncommand="/usr/sbin/daemon"\nprocname="/usr/local/bin/postgres_exporter"\n',
  cron: 'name="cron"\nrcvar="cron_enable"\ncommand="/usr/sbin/${name}"\n',
  syslogd: 'name="syslogd"\nrcvar="syslogd_enable"\ncommand="/usr/sbin/${name}"\nextra_commands="reload"\n',
}

/** Patroni's declarations, from the template the cook renders (for stand-ins without a rendered jail). */
const PATRONI_RC_HEAD = readFileSync(new URL('../templates/rc.d/patroni.hbs', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => /^(name|rcvar|extra_commands|status_cmd|procname|command)=/.test(l))
  .map((l) => `${l}\n`)
  .join('')

const SERVICE = `
# Stand-in for FreeBSD's service(8) and the part of rc.subr's run_rc_command it reaches, for the unit tests.
# service.sh (freebsd/freebsd-src usr.sbin/service/service.sh, commit 023fc80ee38a117fa65b2ccb2abf8bdc7dbd6fd9):
# the script is looked up in /etc/rc.d, then /usr/local/etc/rc.d (here: under the jail root, then
# $STATE/rc.d, what the packages install); none found: a message and exit 1. rc.subr (libexec/rc/rc.subr,
# commit ea40e879eac63a1c077eb06292b9a1237e5c41d5): load_rc_config reads the defaults and rc.conf through sh;
# the keywords are start stop restart rcvar enabled ... $extra_commands, plus status when the script has
# procname/command or a status_cmd: anything else is "unknown directive" and exit 1 (so reload only where the
# script declares it); the one- prefix sets the rcvar to YES; every directive but rcvar/stop/describe (stop
# only without a running pid) on a service whose rcvar is not YES prints "Cannot '...' NAME. Set ..." and
# exits 0 with nothing done (status too: releases before the svcj rework check it, commit 0227451 no longer
# does; the stricter one here). A started service is a process in its own session (as daemon(8) makes it):
# for patroni a loopback HTTP responder on the address in $STATE/patroni.listen that answers /liveness, for
# the others a sleep. Start of a running service and stop of a stopped one fail as rc.subr's defaults do;
# patroni's own stop_cmd answers "is not running." with status 0. Left out: rc.conf.d, _user/su, limits,
# check_pidfile's process-name match (the jail view's rc.subr has it).
printf 'service %s\\n' "$*" >> "$STANDIN_LOG"
if [ $# -lt 2 ]; then
	echo "usage: service <rc.d script> start|stop|etc." >&2
	exit 1
fi
script=
for dir in "$ROOT/etc/rc.d" "$ROOT/usr/local/etc/rc.d" "$STATE/rc.d"; do
	if [ -x "$dir/$1" ]; then
		script=$dir/$1
		break
	fi
done
if [ -z "$script" ]; then
	echo "$1 does not exist in /etc/rc.d or the local startup"
	echo "directories (/usr/local/etc/rc.d), or is not executable"
	exit 1
fi
name= rcvar= extra_commands= procname= command= status_cmd=
eval "$(grep -E '^(name|rcvar|extra_commands|procname|command|status_cmd)=' "$script")"
# load_rc_config: the defaults, then rc_conf_files, read by sh.
. "$RC_DEFAULTS"
source_rc_confs
# Every script's own default after load_rc_config (: \${NAME_enable:="NO"}).
[ -z "$rcvar" ] || eval ": \\\${$rcvar:=NO}"
warn() { echo "/usr/local/etc/rc.d/$name: WARNING: $*" >&2; }
checkyesno() {
	eval _value=\\$$1
	case $_value in
	[Yy][Ee][Ss] | [Tt][Rr][Uu][Ee] | [Oo][Nn] | 1) return 0 ;;
	[Nn][Oo] | [Ff][Aa][Ll][Ss][Ee] | [Oo][Ff][Ff] | 0) return 1 ;;
	*) warn "\\$$1 is not set properly - see rc.conf(5)."; return 1 ;;
	esac
}
action=$2
prefix=
case $action in
one*)
	prefix=one
	action=\${action#one}
	[ -z "$rcvar" ] || eval "$rcvar=YES"
	;;
esac
keywords="start stop restart rcvar enable disable delete enabled describe extracommands $extra_commands"
if [ -n "\${procname:-$command}" ]; then keywords="$keywords status poll"; elif [ -n "$status_cmd" ]; then keywords="$keywords status"; fi
pidf="$STATE/$name.pid"
is_running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
known=
for k in $keywords; do [ "$k" = "$action" ] && known=1; done
if [ -z "$known" ]; then
	echo "/usr/local/etc/rc.d/$name: unknown directive '$action'." >&2
	echo "Usage: /usr/local/etc/rc.d/$name [fast|force|one|quiet]($(echo $keywords | tr ' ' '|'))" >&2
	exit 1
fi
if [ "$action" = enabled ]; then checkyesno "$rcvar"; exit $?; fi
if [ -n "$rcvar" ]; then
	case $action in
	rcvar | describe | enable | delete) ;;
	*)
		if [ "$action" != stop ] || ! is_running; then
			if ! checkyesno "$rcvar"; then
				echo "Cannot '$action' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$action' instead of '$action'."
				exit 0
			fi
		fi
		;;
	esac
fi
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
start)
	if is_running; then
		echo "$name already running? (pid=$(cat "$pidf"))." >&2
		exit 1
	fi
	echo "Starting $name."
	launch
	;;
stop)
	if ! is_running; then
		if [ "$name" = patroni ]; then echo "$name is not running."; exit 0; fi
		echo "$name not running? (check /var/run/$name.pid)." >&2
		exit 1
	fi
	echo "Stopping $name."
	halt
	;;
restart)
	if is_running; then echo "Stopping $name."; halt; fi
	echo "Starting $name."
	launch
	;;
reload)
	if ! is_running; then
		if [ "$name" = patroni ]; then echo "$name is not running." >&2; exit 1; fi
		echo "$name not running? (check /var/run/$name.pid)." >&2
		exit 1
	fi
	echo "Reloading $name."
	;;
status)
	if is_running; then echo "$name is running as pid $(cat "$pidf")."; else echo "$name is not running."; exit 1; fi
	;;
*)
	echo "$name: $action: not copied by the stand-in" >&2
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
const STANDIN_TOOLS = [
  'grep',
  'cut',
  'mv',
  'cp',
  'cat',
  'rm',
  'touch',
  'sleep',
  'setsid',
  'basename',
  'awk',
  'tac',
  'tr',
  'env',
  'stat',
]

/**
 * Stand-ins in `dir`. `root` is the jail's root: rc.conf is its etc/rc.conf (as sysrc(8) writes the jail's
 * /etc/rc.conf), and service(8) finds the rc.d scripts the cook renders there; without one, a root of
 * their own.
 */
export function standIns(dir0: string, opts: { root?: string } = {}): StandIns {
  const dir = join(dir0, 'standin-bin')
  const state = join(dir0, 'standin-state')
  const jailRoot = opts.root ?? join(dir0, 'standin-root')
  mkdirSync(dir, { recursive: true })
  mkdirSync(join(state, 'www'), { recursive: true })
  mkdirSync(join(jailRoot, 'etc'), { recursive: true })
  writeFileSync(join(state, 'www', 'liveness'), 'ok\n')
  const log = join(state, 'calls.log')
  writeFileSync(log, '')
  const rcConfPath = join(jailRoot, 'etc/rc.conf')
  const defaults = join(state, 'defaults.rc.conf')
  writeFileSync(defaults, defaultsRcConf(`${rcConfPath} ${rcConfPath}.local`))
  mkdirSync(join(state, 'rc.d'), { recursive: true })
  for (const [name, text] of Object.entries(PACKAGED_RC_HEADS))
    writeFileSync(join(state, 'rc.d', name), `#!/bin/sh\n${text}`, { mode: 0o755 })
  // Without a jail root of the test's, a jail the cook configured before: its rc.d/patroni is there. A test's
  // root has one only once the cook has rendered it, as in a new jail.
  if (opts.root === undefined) {
    mkdirSync(join(jailRoot, 'usr/local/etc/rc.d'), { recursive: true })
    writeFileSync(join(jailRoot, 'usr/local/etc/rc.d/patroni'), `#!/bin/sh\n${PATRONI_RC_HEAD}`, {
      mode: 0o755,
    })
  }
  const head = (name: string) =>
    `#!/bin/sh\n# ${STAND_IN_MARK}: the ${name} stand-in of the cook's tests\n` +
    `LOG=${sh(log)}\nSTANDIN_LOG=${sh(log)}\nSTATE=${sh(state)}\nROOT=${sh(jailRoot)}\n` +
    `RC_DEFAULTS=\${RC_DEFAULTS:-${sh(defaults)}}\n`
  const scripts: Record<string, string> = {
    // The file's own first line gives way to the head (which carries the mark and the test's files).
    sysrc: SYSRC_STANDIN.replace(/^#!\/bin\/sh\n/, ''),
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
  const env = sealedEnv([dir, toolsDir(join(dir0, 'standin-tools'), STANDIN_TOOLS)])
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
    rcConfPath,
    rcConf: () => {
      if (!existsSync(rcConfPath)) return {}
      // The text between the quotes of each name="value" line, as sysrc(8) wrote it.
      return Object.fromEntries(
        readFileSync(rcConfPath, 'utf8')
          .split('\n')
          .map((l) => /^([A-Za-z_][A-Za-z0-9_]*)="(.*)"$/.exec(l))
          .filter((m) => m !== null)
          .map((m) => [m[1], m[2]]),
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
