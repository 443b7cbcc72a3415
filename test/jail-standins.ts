// Stand-ins for the FreeBSD programs the jail's rc scripts and stop hook depend on, installed at their
// FreeBSD paths inside the jail view (test/jailview.ts). Each copies the behaviour of the real program
// that the image depends on, and names the source it copies; what it leaves out is said too. Each body
// starts with #!/bin/sh; the view inserts the stand-in mark and STANDIN_LOG (where every call is recorded).
import { readFileSync } from 'node:fs'
import { defaultsRcConf, SYSRC_STANDIN } from './standins.js'

/** Where the jail view puts the daemon(8) stand-in's program. */
const DAEMON_PY = '/usr/local/libexec/cook-test/daemon-standin.py'

/** FreeBSD usr.sbin/service/service.sh (freebsd/freebsd-src, commit 023fc80ee38a117fa65b2ccb2abf8bdc7dbd6fd9):
 *  load_rc_config for local_startup, the script found in /etc/rc.d then $local_startup, and run from / with a
 *  clean environment whose PATH is the base system's only (`env -i -L -/daemon HOME=/ PATH=/sbin:/bin:/usr/sbin:
 *  /usr/bin`): an rc script must name /usr/local's programs by their paths. Left out: -L -/daemon (login
 *  class limits; Linux's env has no -L), -e -l -r -R -j -v. */
const SERVICE = `#!/bin/sh
printf 'service %s\\n' "$*" >> "$STANDIN_LOG"
. /etc/rc.subr
load_rc_config 'XXX'
if [ $# -gt 1 ]; then
	script=$1
	shift
else
	echo "usage: service <rc.d script> start|stop|etc." >&2
	exit 1
fi
cd /
for dir in /etc/rc.d $local_startup; do
	if [ -x "$dir/$script" ]; then
		exec env -i HOME=/ PATH=/sbin:/bin:/usr/sbin:/usr/bin "$dir/$script" "$@"
	fi
done
echo "$script does not exist in /etc/rc.d or the local startup"
echo "directories (\${local_startup}), or is not executable"
exit 1
`

/** FreeBSD usr.sbin/sysrc: the one stand-in (test/fixtures/jail-bin/sysrc names what it copies), on the
 *  jail's /etc/defaults/rc.conf and /etc/rc.conf. */
const SYSRC = SYSRC_STANDIN

/**
 * FreeBSD usr.sbin/daemon/daemon.c, stable/14 since 7ea2874eadf9 (the code of 14.3 and 15.x): copied
 * function by function in test/fixtures/daemon-standin.py, whose header says what it copies and what it
 * leaves out. Above all: under supervision the child's stdout and stderr are always a pipe to the
 * supervisor (with or without -o), and after the child dies the supervisor reads that pipe until EOF
 * before it restarts the child or acts on a SIGTERM that came meanwhile.
 */
const DAEMON = `#!/bin/sh
printf 'daemon %s\\n' "$*" >> "$STANDIN_LOG"
exec /usr/bin/python3 ${DAEMON_PY} "$@"
`

/**
 * FreeBSD libexec/rc/rc.subr (freebsd/freebsd-src, commit ea40e879eac63a1c077eb06292b9a1237e5c41d5; the
 * later service-jail version, commit 0227451304a7af52d58867e140e06b64b4288958, differs here only in no longer
 * checking the rcvar for `status`), the part rc scripts use: load_rc_config (/etc/defaults/rc.conf and its
 * source_rc_confs, then rc.conf.d/NAME), checkyesno, and run_rc_command: the keywords are start stop restart
 * rcvar enabled describe extracommands and $extra_commands, plus status and poll when the script has
 * procname or command (status alone when it has a status_cmd); any other directive, reload among them when
 * the script does not list it, is "unknown directive" with the usage and exit 1. The one- prefix sets the
 * rcvar to YES; every directive but rcvar/describe/enable/delete, and stop without a running pid, on a
 * service whose rcvar is not YES prints "Cannot '...' NAME. Set ..." and returns 0 with nothing done. Then
 * the pid (check_pidfile: the pidfile's pid is the service only when its argv[0] is procname, its basename,
 * "basename:", "(basename)" or "[basename]", or with command_interpreter "interpreter procname"), the
 * ${name}_env_file, required_files before start, custom *_cmd and *_precmd, and the default
 * start/stop/status/reload (SIGTERM and wait_for_pids; sig_reload, default HUP). Left out: _user/su,
 * chroot, limits, nice, fast/force/quiet prefixes, service jails. `${name}_flags` goes between command and
 * command_args (rc_flags).
 */
const RC_SUBR = `#!/bin/sh
warn() { echo "$0: WARNING: $*" >&2; }
err() { _code=$1; shift; echo "$0: ERROR: $*" >&2; exit "$_code"; }
debug() { :; }
load_rc_config() {
	if ! \${_rc_conf_loaded:-false}; then
		if [ -r /etc/defaults/rc.conf ]; then
			. /etc/defaults/rc.conf
			source_rc_confs
		elif [ -r /etc/rc.conf ]; then
			. /etc/rc.conf
		fi
		_rc_conf_loaded=true
	fi
	if [ -n "$1" ]; then
		for _d in /etc \${local_startup}; do
			_d=\${_d%/rc.d}
			[ -f "\${_d}/rc.conf.d/$1" ] && . "\${_d}/rc.conf.d/$1"
		done
	fi
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
# _find_processes for one pid: argv[0] (or, interpreted, the leading words) against the process name.
check_pidfile() {
	[ -f "$1" ] || return 0
	read -r _pid _junk < "$1"
	[ -n "$_pid" ] || return 0
	[ -r "/proc/$_pid/cmdline" ] || return 0
	_procnamebn=\${2##*/}
	if [ -n "$3" ]; then
		_argv=$(tr '\\0' ' ' < "/proc/$_pid/cmdline")
		case "$_argv" in
		"$3 $2" | "$3 $2 "* | "[\${3##*/}]" | "\${3##*/}: $2"*) echo "$_pid" ;;
		esac
		return 0
	fi
	_arg0=$(tr '\\0' '\\n' < "/proc/$_pid/cmdline" | head -n 1)
	case "$_arg0" in
	"$2" | "$_procnamebn" | "\${_procnamebn}:" | "(\${_procnamebn})" | "[\${_procnamebn}]") echo "$_pid" ;;
	esac
	return 0
}
wait_for_pids() {
	for _p; do
		while kill -0 "$_p" 2> /dev/null; do sleep 0.1; done
	done
}
rc_usage() {
	printf 'Usage: %s [fast|force|one|quiet](' "$0" >&2
	_sep=
	for _elem; do
		printf '%s%s' "$_sep" "$_elem" >&2
		_sep='|'
	done
	echo ')' >&2
	exit 1
}
run_rc_command() {
	rc_arg=$1
	_rc_prefix=
	case $rc_arg in
	one*)
		_rc_prefix=one
		rc_arg=\${rc_arg#one}
		[ -z "$rcvar" ] || eval "$rcvar=YES"
		;;
	esac
	_keywords="start stop restart rcvar enable disable delete enabled describe extracommands $extra_commands"
	_procname=\${procname:-$command}
	# rc.subr: rc_flags is \${name}_flags, put between command and command_args by the default start.
	eval rc_flags=\\$\${name}_flags
	rc_pid=
	if [ -n "$_procname" ]; then
		[ -z "$pidfile" ] || rc_pid=$(check_pidfile "$pidfile" "$_procname" "$command_interpreter")
		_keywords="$_keywords status poll"
	elif [ -n "$status_cmd" ]; then
		_keywords="$_keywords status"
	fi
	[ -n "$rc_arg" ] || rc_usage $_keywords
	if [ "$rc_arg" = enabled ]; then
		checkyesno "$rcvar"
		return $?
	fi
	for _elem in $_keywords; do
		[ "$_elem" = "$rc_arg" ] || continue
		if { [ -n "$rcvar" ] && [ "$rc_arg" != rcvar ] && [ "$rc_arg" != stop ] && [ "$rc_arg" != delete ] &&
			[ "$rc_arg" != enable ] && [ "$rc_arg" != describe ]; } ||
			{ [ -n "$rcvar" ] && [ "$rc_arg" = stop ] && [ -z "$rc_pid" ]; }; then
			if ! checkyesno "$rcvar"; then
				echo "Cannot '$rc_arg' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$rc_arg' instead of '$rc_arg'."
				return 0
			fi
		fi
		if [ "$rc_arg" = start ] && [ -n "$rc_pid" ]; then
			echo "$name already running? (pid=$rc_pid)." >&2
			return 1
		fi
		# rc.subr: \${name}_env_file is sourced with set -a before the command runs.
		eval _env_file=\\$\${name}_env_file
		if [ -n "$_env_file" ] && [ -r "$_env_file" ]; then set -a; . "$_env_file"; set +a; fi
		if [ "$rc_arg" = start ]; then
			for _f in $required_files; do
				[ -r "$_f" ] || { warn "$_f is not readable."; return 1; }
			done
		fi
		eval _cmd=\\$\${rc_arg}_cmd _precmd=\\$\${rc_arg}_precmd
		if [ -n "$_cmd" ]; then
			if [ -n "$_precmd" ]; then eval "$_precmd" || return 1; fi
			eval "$_cmd"
			return $?
		fi
		case $rc_arg in
		status)
			if [ -n "$rc_pid" ]; then echo "$name is running as pid $rc_pid."; else echo "$name is not running."; return 1; fi
			;;
		start)
			[ -x "$command" ] || { warn "run_rc_command: cannot run $command"; return 1; }
			if [ -n "$_precmd" ]; then eval "$_precmd" || { warn "failed precmd routine for $name"; return 1; }; fi
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
			kill -"\${sig_reload:-HUP}" "$rc_pid"
			;;
		restart)
			(run_rc_command \${_rc_prefix}stop)
			(run_rc_command \${_rc_prefix}start)
			;;
		*)
			rc_usage $_keywords
			;;
		esac
		return 0
	done
	echo "$0: unknown directive '$rc_arg'." >&2
	rc_usage $_keywords
}
`

/** FreeBSD's /etc/defaults/rc.conf, the part the jail reads (test/standins.ts names the source). */
const DEFAULTS_RC_CONF = defaultsRcConf('/etc/rc.conf /etc/rc.conf.local')

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
# argv[0] is the program's path, as for the real binary: rc.subr's check_pidfile matches it against procname.
exec /bin/bash -c 'exec -a "$0" sleep 100000' /usr/local/bin/postgres_exporter
`

/** The exporter itself: its first log line on stderr (what daemon(8) carries to -o or syslog), then lives until SIGTERM. */
const NODE_EXPORTER = `#!/bin/sh
printf 'node_exporter %s\\n' "$*" >> "$STANDIN_LOG"
echo 'node_exporter stand-in: msg="Listening on"' >&2
# argv[0] is the program's path, as for the real binary: rc.subr's check_pidfile matches it against procname.
exec /bin/bash -c 'exec -a "$0" sleep 100000' /usr/local/bin/node_exporter
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

/** FreeBSD libexec/rc/rc.d/cron (freebsd/freebsd-src, commit d28066d8954abdb40fd85d92c65b3780b41b7dd8), as it is. */
const CRON_RC = `#!/bin/sh
# PROVIDE: cron
# REQUIRE: LOGIN FILESYSTEMS
# BEFORE: securelevel
# KEYWORD: shutdown

. /etc/rc.subr

name="cron"
desc="Daemon to execute scheduled commands"
rcvar="cron_enable"
command="/usr/sbin/\${name}"
pidfile="/var/run/\${name}.pid"

load_rc_config $name
if checkyesno cron_dst
then
	cron_flags="$cron_flags -s"
fi
run_rc_command "$1"
`

/** FreeBSD libexec/rc/rc.d/syslogd (commit 90dac7dfe7b9c49e28df45dbee8b4811cd5fb293): its declarations; left
 *  out: syslogd_precmd (the /dev/log link and the socket lists of chrooted programs and jails). */
const SYSLOGD_RC = `#!/bin/sh
# PROVIDE: syslogd
# REQUIRE: mountcritremote FILESYSTEMS newsyslog netif
# BEFORE:  SERVERS

. /etc/rc.subr

name="syslogd"
desc="System log daemon"
rcvar="syslogd_enable"
pidfile="/var/run/syslog.pid"
command="/usr/sbin/\${name}"
required_files="/etc/syslog.conf"
extra_commands="reload"
load_rc_config $name
run_rc_command "$1"
`

/** A daemon that detaches and writes its pid file, as cron(8) and syslogd(8) do; argv[0] is its path. */
const detaching = (path: string, pidfile: string) => `#!/bin/sh
printf '%s %s\\n' "${path.split('/').pop()}" "$*" >> "$STANDIN_LOG"
setsid /bin/bash -c 'echo $$ > ${pidfile}; exec -a ${path} sleep 100000' < /dev/null > /dev/null 2>&1 &
exit 0
`

/** Jail path -> stand-in text. */
export const JAIL_STANDINS: Record<string, string> = {
  '/usr/sbin/service': SERVICE,
  '/usr/sbin/sysrc': SYSRC,
  '/usr/sbin/daemon': DAEMON,
  [DAEMON_PY]: readFileSync(new URL('./fixtures/daemon-standin.py', import.meta.url), 'utf8'),
  '/etc/rc.subr': RC_SUBR,
  '/etc/defaults/rc.conf': DEFAULTS_RC_CONF,
  '/etc/rc.d/cron': CRON_RC,
  '/usr/sbin/cron': detaching('/usr/sbin/cron', '/var/run/cron.pid'),
  '/etc/rc.d/syslogd': SYSLOGD_RC,
  '/usr/sbin/syslogd': detaching('/usr/sbin/syslogd', '/var/run/syslog.pid'),
  '/etc/syslog.conf': '#!/bin/sh\n# A stand-in: syslogd reads it; its content is not copied.\n',
  '/usr/local/etc/rc.d/node_exporter': NODE_EXPORTER_RC,
  '/usr/local/bin/node_exporter': NODE_EXPORTER,
  '/usr/local/etc/rc.d/postgres_exporter': POSTGRES_EXPORTER_RC,
  '/usr/local/bin/postgres_exporter': POSTGRES_EXPORTER,
  '/usr/local/bin/consul': CONSUL,
  '/usr/local/bin/patroni': PATRONI,
}
