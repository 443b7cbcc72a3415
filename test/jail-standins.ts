// Stand-ins for the FreeBSD programs the jail's rc scripts and stop hook depend on, installed at their
// FreeBSD paths inside the jail view (test/jailview.ts). Each copies the behaviour of the real program
// that the image depends on, and names the source it copies; what it leaves out is said too. Each body
// starts with #!/bin/sh; the view inserts the stand-in mark and STANDIN_LOG (where every call is recorded).
import { SYSRC_BODY } from './standins.js'

/** FreeBSD usr.sbin/service/service.sh: finds the script in /etc/rc.d, then the local startup directory,
 *  and runs it with a clean environment (env -i HOME=/ PATH=...), from /. */
const SERVICE = `#!/bin/sh
printf 'service %s\\n' "$*" >> "$STANDIN_LOG"
if [ $# -lt 2 ]; then
	echo "usage: service <rc.d script> start|stop|etc." >&2
	exit 1
fi
script=$1
shift
for dir in /etc/rc.d /usr/local/etc/rc.d; do
	if [ -x "$dir/$script" ]; then
		cd / || exit 1
		exec env -i HOME=/ PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin "$dir/$script" "$@"
	fi
done
echo "$script does not exist in /etc/rc.d or the local startup directories (/usr/local/etc/rc.d)" >&2
exit 1
`

/** FreeBSD usr.sbin/sysrc: the same stand-in as the unit tests', on the jail's /etc/rc.conf. */
const SYSRC = `#!/bin/sh
LOG=$STANDIN_LOG
STATE=/etc
${SYSRC_BODY}`

/**
 * FreeBSD usr.sbin/daemon/daemon.c (14.x), where the jail depends on it:
 * - daemon(3) backgrounds it; it keeps the caller's stdin, stdout and stderr open unless -f
 *   (keep_fds_open defaults to 1), so a caller waiting for its pipes to close waits for the daemon;
 * - supervision (-p, -P, -r, -R, -o, -S, -T): the supervisor writes -P (its pid) and forks the child,
 *   which writes -p (its own pid) before dropping to -u's user and exec'ing the command; the child's
 *   stdout and stderr go to -o's file (opened first, as root, append, 0600), or to syslog with -S/-T
 *   (dropped here: a Nomad jail runs no syslogd), or else to the supervisor's own stdout;
 * - -r/-R N: the child is started again N seconds (1 with -r) after it exits, unless terminating;
 * - SIGTERM to the supervisor: forwarded to the child once, restarts stop, the supervisor exits when the
 *   child has and removes both pid files; a SIGTERM during the restart delay is lost (daemon watches
 *   signals only in its event loop); SIGTERM to the child alone is a death like any other: restarted.
 * Left out: -c, -t (process title), -l/-s/-m, -H (log reopen), the pidfile locks.
 */
const DAEMON = `#!/bin/sh
printf 'daemon %s\\n' "$*" >> "$STANDIN_LOG"
keep_fds=1 restart=0 delay=1 child_pidfile= sup_pidfile= user= outfile= syslog=0
supervise=0
if [ "\${1:-}" = --supervise ]; then
	supervise=1
	shift
fi
while getopts cfHrSp:P:u:o:t:l:s:T:m:R: opt; do
	case $opt in
	f) keep_fds=0 ;;
	r) restart=1 ;;
	R) restart=1; delay=$OPTARG ;;
	p) child_pidfile=$OPTARG ;;
	P) sup_pidfile=$OPTARG ;;
	u) user=$OPTARG ;;
	o) outfile=$OPTARG ;;
	S | T | l | s) syslog=1 ;;
	c | H | t | m) ;;
	*) exit 1 ;;
	esac
done
if [ $# -lt "$OPTIND" ]; then
	echo "usage: daemon [-cfHrS] [-p child_pidfile] [-P supervisor_pidfile] ... command" >&2
	exit 1
fi

if [ $supervise -eq 0 ]; then
	umask 077
	if [ -n "$outfile" ] && ! : >> "$outfile"; then
		echo "daemon: open: $outfile" >&2
		exit 7
	fi
	if [ $keep_fds -eq 0 ]; then
		setsid "$0" --supervise "$@" < /dev/null > /dev/null 2>&1 &
	else
		setsid "$0" --supervise "$@" &
	fi
	exit 0
fi

# The supervisor got the same command line: the command starts after the options.
shift $((OPTIND - 1))
run_as=
if [ -n "$user" ]; then
	home=$(getent passwd "$user" | cut -d: -f6)
	run_as="env USER=$user HOME=$home setpriv --reuid=$user --regid=$(id -g "$user") --init-groups"
fi
[ -z "$sup_pidfile" ] || echo $$ > "$sup_pidfile"
terminating=0
child=
on_term() {
	[ $terminating -eq 1 ] && return
	terminating=1
	restart=0
	[ -z "$child" ] || kill -TERM "$child" 2> /dev/null
}
trap on_term TERM
trap '' HUP
start_child() {
	# shellcheck disable=SC2086 # run_as is meant to split into words
	if [ -n "$outfile" ]; then
		sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "\${child_pidfile:-/dev/null}" $run_as "$@" >> "$outfile" 2>&1 < /dev/null &
	elif [ $syslog -eq 1 ]; then
		sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "\${child_pidfile:-/dev/null}" $run_as "$@" > /dev/null 2>&1 < /dev/null &
	else
		sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "\${child_pidfile:-/dev/null}" $run_as "$@" < /dev/null &
	fi
	child=$!
}
while :; do
	start_child "$@"
	while kill -0 "$child" 2> /dev/null; do
		wait "$child"
	done
	child=
	if [ $restart -eq 0 ] || [ $terminating -eq 1 ]; then
		break
	fi
	trap '' TERM
	sleep "$delay"
	trap on_term TERM
done
rm -f "$child_pidfile" "$sup_pidfile"
exit 1
`

/**
 * FreeBSD libexec/rc/rc.subr, the part rc scripts use: load_rc_config (rc.conf, then rc.conf.d/NAME),
 * checkyesno, and run_rc_command with its rcvar rule (start, reload, restart and extra commands of a
 * disabled service print "Cannot '...'" and succeed without running; status never checks the rcvar; stop
 * checks it only when no pid is known), the one- prefix, required_files before start, custom *_cmd and
 * *_precmd, and the default start/stop/status/reload of command/procname/pidfile scripts (check_pidfile,
 * then SIGTERM and wait_for_pids), with \${name}_flags between command and command_args. Left out: _user/su, chroot, limits, nice, service jails.
 */
const RC_SUBR = `#!/bin/sh
warn() { echo "$0: WARNING: $*" >&2; }
err() { _code=$1; shift; echo "$0: ERROR: $*" >&2; exit "$_code"; }
debug() { :; }
load_rc_config() {
	[ -r /etc/rc.conf ] && . /etc/rc.conf
	[ -r "/etc/rc.conf.d/$1" ] && . "/etc/rc.conf.d/$1"
	[ -r "/usr/local/etc/rc.conf.d/$1" ] && . "/usr/local/etc/rc.conf.d/$1"
	return 0
}
checkyesno() {
	eval _value=\\$$1
	case $_value in
	[Yy][Ee][Ss] | [Tt][Rr][Uu][Ee] | [Oo][Nn] | 1) return 0 ;;
	[Nn][Oo] | [Ff][Aa][Ll][Ss][Ee] | [Oo][Ff][Ff] | 0) return 1 ;;
	*) warn "\\$$1 is not set properly - see rc.conf(5)."; return 1 ;;
	esac
}
check_pidfile() {
	[ -r "$1" ] || return 0
	read -r _pid _junk < "$1"
	[ -n "$_pid" ] && kill -0 "$_pid" 2> /dev/null && echo "$_pid"
	return 0
}
wait_for_pids() {
	for _p; do
		while kill -0 "$_p" 2> /dev/null; do sleep 0.1; done
	done
}
run_rc_command() {
	rc_arg=$1
	_rc_prefix=
	case $rc_arg in
	one*) _rc_prefix=one; rc_arg=\${rc_arg#one} ;;
	esac
	_procname=\${procname:-$command}
	# rc.subr: rc_flags is \${name}_flags, put between command and command_args by the default start.
	eval rc_flags=\\$\${name}_flags
	rc_pid=
	if [ -n "$pidfile" ] && [ -n "$_procname" ]; then rc_pid=$(check_pidfile "$pidfile" "$_procname"); fi
	for _elem in start stop restart status reload $extra_commands; do
		[ "$_elem" = "$rc_arg" ] || continue
		if { [ "$rc_arg" != stop ] && [ "$rc_arg" != status ]; } || { [ "$rc_arg" = stop ] && [ -z "$rc_pid" ]; }; then
			if [ -n "$rcvar" ] && [ -z "$_rc_prefix" ] && ! checkyesno "$rcvar"; then
				echo "Cannot '$rc_arg' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$rc_arg' instead of '$rc_arg'."
				return 0
			fi
		fi
		if [ "$rc_arg" = start ] && [ -n "$rc_pid" ]; then
			echo "$name already running? (pid=$rc_pid)." >&2
			return 1
		fi
		if [ "$rc_arg" = start ]; then
			# rc.subr: \${name}_env_file is sourced with set -a before the command runs.
			eval _env_file=\\$\${name}_env_file
			if [ -n "$_env_file" ] && [ -r "$_env_file" ]; then set -a; . "$_env_file"; set +a; fi
			for _f in $required_files; do
				[ -r "$_f" ] || { warn "$_f is not readable."; return 1; }
			done
		fi
		eval _cmd=\\$\${rc_arg}_cmd _precmd=\\$\${rc_arg}_precmd
		if [ -n "$_precmd" ]; then eval "$_precmd" || return 1; fi
		if [ -n "$_cmd" ]; then
			eval "$_cmd"
			return $?
		fi
		case $rc_arg in
		status)
			if [ -n "$rc_pid" ]; then echo "$name is running as pid $rc_pid."; else echo "$name is not running."; return 1; fi
			;;
		start)
			echo "Starting $name."
			# shellcheck disable=SC2086 # rc.subr splits rc_flags and command_args into words too
			$command $rc_flags $command_args || { warn "failed to start $name"; return 1; }
			;;
		stop)
			[ -n "$rc_pid" ] || { echo "$name not running? (check $pidfile)." >&2; return 1; }
			echo "Stopping $name."
			kill -TERM "$rc_pid"
			wait_for_pids "$rc_pid"
			;;
		reload)
			[ -n "$rc_pid" ] || { echo "$name not running? (check $pidfile)." >&2; return 1; }
			kill -HUP "$rc_pid"
			;;
		restart)
			(run_rc_command \${_rc_prefix}stop)
			(run_rc_command \${_rc_prefix}start)
			;;
		esac
		return 0
	done
	echo "$0: unknown directive '$rc_arg'." >&2
	return 1
}
`

/**
 * The package's rc script, copied: freebsd/freebsd-ports sysutils/node_exporter/files/node_exporter.in at
 * 876a404647b4fa150bc28c65d6f532e3e9be318f (%%PREFIX%% is /usr/local). rc.subr puts node_exporter_flags
 * between `command` (daemon) and command_args, and runs it all as node_exporter_user (su; left out by the
 * rc.subr stand-in). Its -T sends the exporter's output to syslog, which no Nomad jail runs.
 */
const NODE_EXPORTER_RC = `#!/bin/sh

# PROVIDE: node_exporter
# REQUIRE: LOGIN
# KEYWORD: shutdown
#
# Add the following lines to /etc/rc.conf.local or /etc/rc.conf
# to enable this service:
#
# node_exporter_enable (bool):          Set to NO by default.
#               Set it to YES to enable node_exporter.
# node_exporter_user (string):          Set user that node_exporter will run under
#               Default is "nobody".
# node_exporter_group (string):         Set group that node_exporter will run under
#               Default is "nobody".
# node_exporter_args (string):          Set extra arguments to pass to node_exporter
#               Default is "".
# node_exporter_listen_address (string):Set ip:port that node_exporter will listen on
#               Default is ":9100".
# node_exporter_textfile_dir (string):  Set directory that node_exporter will watch
#               Default is "/var/tmp/node_exporter".

. /etc/rc.subr

name=node_exporter
rcvar=node_exporter_enable

load_rc_config $name

: \${node_exporter_enable:="NO"}
: \${node_exporter_user:="nobody"}
: \${node_exporter_group:="nobody"}
: \${node_exporter_args:=""}
: \${node_exporter_listen_address:=":9100"}
: \${node_exporter_textfile_dir:="/var/tmp/node_exporter"}


pidfile=/var/run/node_exporter.pid
command="/usr/sbin/daemon"
procname="/usr/local/bin/node_exporter"
command_args="-f -p \${pidfile} -T \${name} \\
    /usr/bin/env \${procname} \\
    --web.listen-address=\${node_exporter_listen_address} \\
    --collector.textfile.directory=\${node_exporter_textfile_dir} \\
    \${node_exporter_args}"

start_precmd=node_exporter_startprecmd

node_exporter_startprecmd()
{
    if [ ! -e \${pidfile} ]; then
        install \\
            -o \${node_exporter_user} \\
            -g \${node_exporter_group} \\
            /dev/null \${pidfile};
    fi
    if [ ! -d \${node_exporter_textfile_dir} ]; then
        install \\
            -d \\
            -o \${node_exporter_user} \\
            -g \${node_exporter_group} \\
            -m 1755 \\
            \${node_exporter_textfile_dir}
    fi
}

load_rc_config $name
run_rc_command "$1"
`

/**
 * The package's rc script (databases/postgres_exporter, files/postgres_exporter.in), which the jail
 * replaces with its own (templates/rc.d/postgres_exporter). NOT copied from a fetched file: neither the
 * index nor a snapshot of freebsd/freebsd-ports (2.5 GB, over the fetch limit) holds the current revision
 * here. It is rebuilt from what the second reading (issue #26.3, /work/shared/REFERENCE.md) read in it and
 * from how potluck's images drive it (bsdpot/potluck postgres-single: postgres_exporter_pg_host, _pg_user,
 * _pg_pass, _env in rc.conf): DATA_SOURCE_NAME composed from postgres_exporter_pg_user, _pg_pass, _pg_host
 * and _pg_port, put on daemon's command line with /usr/bin/env, where it overrides anything an env file set.
 * The defaults (postgres_exporter, localhost, 5432, nobody) are what that composition is known to use.
 */
const POSTGRES_EXPORTER_RC = `#!/bin/sh

# PROVIDE: postgres_exporter
# REQUIRE: LOGIN
# KEYWORD: shutdown

. /etc/rc.subr

name=postgres_exporter
rcvar=postgres_exporter_enable

load_rc_config $name

: \${postgres_exporter_enable:="NO"}
: \${postgres_exporter_user:="nobody"}
: \${postgres_exporter_group:="nobody"}
: \${postgres_exporter_args:=""}
: \${postgres_exporter_listen_address:=":9187"}
: \${postgres_exporter_pg_user:="postgres_exporter"}
: \${postgres_exporter_pg_pass:=""}
: \${postgres_exporter_pg_host:="localhost"}
: \${postgres_exporter_pg_port:="5432"}

postgres_exporter_data_source="DATA_SOURCE_NAME=postgresql://\${postgres_exporter_pg_user}:\${postgres_exporter_pg_pass}@\${postgres_exporter_pg_host}:\${postgres_exporter_pg_port}/postgres?sslmode=disable"

pidfile=/var/run/postgres_exporter.pid
command="/usr/sbin/daemon"
procname="/usr/local/bin/postgres_exporter"
command_args="-f -p \${pidfile} -T \${name} \\
    /usr/bin/env \${postgres_exporter_data_source} \${procname} \\
    --web.listen-address=\${postgres_exporter_listen_address} \\
    \${postgres_exporter_args}"

start_precmd=postgres_exporter_startprecmd

postgres_exporter_startprecmd()
{
    if [ ! -e \${pidfile} ]; then
        install -o \${postgres_exporter_user} -g \${postgres_exporter_group} /dev/null \${pidfile};
    fi
}

load_rc_config $name
run_rc_command "$1"
`

/** postgres_exporter: records its arguments and the DATA_SOURCE_* names it was given, lives until SIGTERM. */
const POSTGRES_EXPORTER = `#!/bin/sh
printf 'postgres_exporter %s env %s\\n' "$*" "$(env | grep '^DATA_SOURCE_' | sort | tr '\\n' ' ')" >> "$STANDIN_LOG"
exec sleep 100000
`

/** The exporter itself: its first log line on stderr (what daemon(8) carries to -o or syslog), then lives until SIGTERM. */
const NODE_EXPORTER = `#!/bin/sh
printf 'node_exporter %s\\n' "$*" >> "$STANDIN_LOG"
echo 'node_exporter stand-in: msg="Listening on"' >&2
exec sleep 100000
`

/** The Consul CLI: \`consul leave\` with no agent (DCS=etcd in these tests) fails as the real one does. */
const CONSUL = `#!/bin/sh
printf 'consul %s\\n' "$*" >> "$STANDIN_LOG"
echo 'Error leaving agent: Put "http://127.0.0.1:8500/v1/agent/leave": dial tcp 127.0.0.1:8500: connect: connection refused' >&2
exit 1
`

/**
 * Patroni as its rc script and the cook see it: \`patroni --validate-config FILE\`, and \`patroni FILE\`
 * that serves GET /liveness on restapi.listen, writes a line to stdout at start and at SIGHUP, and exits
 * 0 on SIGTERM after a short shutdown (PostgreSQL stopping, the leader key released).
 */
const PATRONI = `#!/bin/sh
printf 'patroni %s\\n' "$*" >> "$STANDIN_LOG"
[ "$1" = --validate-config ] && exit 0
exec /usr/bin/python3 -u -c '
import http.server, signal, sys, threading, time, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
host, port = cfg["restapi"]["listen"].rsplit(":", 1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/liveness" else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("patroni stand-in: REST API on %s:%s" % (host, port))
def term(*a):
    print("patroni stand-in: SIGTERM, shutting PostgreSQL down and releasing the leader key")
    time.sleep(0.3)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
signal.signal(signal.SIGHUP, lambda *a: print("patroni stand-in: SIGHUP, configuration reloaded"))
while True:
    time.sleep(1)
' "$@"
`

/** Jail path -> stand-in text. */
export const JAIL_STANDINS: Record<string, string> = {
  '/usr/sbin/service': SERVICE,
  '/usr/sbin/sysrc': SYSRC,
  '/usr/sbin/daemon': DAEMON,
  '/etc/rc.subr': RC_SUBR,
  '/usr/local/etc/rc.d/node_exporter': NODE_EXPORTER_RC,
  '/usr/local/bin/node_exporter': NODE_EXPORTER,
  '/usr/local/etc/rc.d/postgres_exporter': POSTGRES_EXPORTER_RC,
  '/usr/local/bin/postgres_exporter': POSTGRES_EXPORTER,
  '/usr/local/bin/consul': CONSUL,
  '/usr/local/bin/patroni': PATRONI,
}
