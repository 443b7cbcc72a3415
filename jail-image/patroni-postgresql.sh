#!/bin/sh
# Build script of the patroni-postgresql flavour. pot copies it into the new jail and runs it there once,
# at create time, as "/tmp/patroni-postgresql.sh <potname>"; a non-zero exit aborts "pot create".
#
# Before it runs, the flavour file has copied patroni-postgresql.d/ (staged by "npm run image") to
# /root/.cook-image in the jail:
#   build.conf        PG_MAJOR (the one PostgreSQL major of the image, or "auto"), PY_FLAVOR,
#                     PATRONI_PIP (the Patroni version pip installs when there is no package), IMAGE_VERSION;
#                     written by the builder, which is how --pg reaches this script (pot passes only
#                     the pot name)
#   cook/dist/cook.mjs, cook/templates/   the cook bundle and its templates
#   bin/cook, bin/cook-stop               the launcher and the jail's stop hook
#   rc.d/cook                             the rc.d service that runs cook at jail start
#
# IMAGE_TEST_ROOT is for the tests only: a directory that stands for / so that this script can run on a
# development machine with recording stand-ins for pkg, sysrc and pw first on PATH. Never set it in a jail.
set -eu

R="${IMAGE_TEST_ROOT:-}"
STAGE="$R/root/.cook-image"
PATH="${PATH:+$PATH:}/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin"
ASSUME_ALWAYS_YES=yes
export PATH ASSUME_ALWAYS_YES

STEP=0
STEP_NAME="start"
step() {
	STEP=$((STEP + 1))
	STEP_NAME="$*"
	echo "Step $STEP: $STEP_NAME"
}
fail() {
	echo "patroni-postgresql.sh: $*" >&2
	exit 1
}
on_exit() {
	_rc=$?
	if [ "$_rc" -ne 0 ]; then
		echo "patroni-postgresql.sh: FAILED at step $STEP ($STEP_NAME), exit code $_rc; the image is not usable" >&2
	fi
}
trap on_exit EXIT

echo "Building the patroni-postgresql image in pot ${1:-?}"

step "Read the build settings from $STAGE/build.conf"
[ -r "$STAGE/build.conf" ] ||
	fail "$STAGE/build.conf is missing: stage the flavour with 'npm run image' (or --stage-only) first"
PG_MAJOR=""
PY_FLAVOR="py311"
PATRONI_PIP=""
IMAGE_VERSION=""
# shellcheck source=/dev/null # written by the builder (scripts/image.ts)
. "$STAGE/build.conf"
case "$PG_MAJOR" in
auto | [1-9][0-9]) ;;
*) fail "build.conf: PG_MAJOR must be auto or a PostgreSQL major such as 17, got '$PG_MAJOR'" ;;
esac
case "$PY_FLAVOR" in
py3[0-9] | py3[0-9][0-9]) ;;
*) fail "build.conf: PY_FLAVOR must look like py311, got '$PY_FLAVOR'" ;;
esac
[ -n "$IMAGE_VERSION" ] || fail "build.conf: IMAGE_VERSION is empty"
PYTHON="python3.${PY_FLAVOR#py3}"
echo "PostgreSQL $PG_MAJOR, Python $PYTHON, image version $IMAGE_VERSION"

step "Bootstrap pkg, keeping the repository configuration the base already has"
_repo_conf=""
for _conf in "$R"/etc/pkg/*.conf "$R"/usr/local/etc/pkg/repos/*.conf; do
	[ -f "$_conf" ] && _repo_conf="$_repo_conf ${_conf#"$R"}"
done
if [ -z "$_repo_conf" ]; then
	fail "no pkg repository is configured (neither /etc/pkg/*.conf nor /usr/local/etc/pkg/repos/*.conf)"
fi
echo "pkg repository configuration:$_repo_conf"
if ! pkg -N >/dev/null 2>&1; then
	pkg bootstrap
fi

step "Update the package catalogue"
pkg update -f

# psycopg2 (like every package built with USES=pgsql) depends on the client of the package set's default
# PostgreSQL (PGSQL_DEFAULT in Mk/bsd.default-versions.mk), and postgresqlNN-server conflicts with other
# majors: with PG_MAJOR=auto the image takes the major that psycopg2 depends on in this repository.
step "Choose the PostgreSQL major"
_psycopg_pg=$(pkg rquery '%dn' "${PY_FLAVOR}-psycopg2" 2>/dev/null |
	sed -n 's/^postgresql\([0-9][0-9]*\)-client$/\1/p' | head -n 1)
if [ "$PG_MAJOR" = auto ]; then
	[ -n "$_psycopg_pg" ] ||
		fail "cannot tell which PostgreSQL major ${PY_FLAVOR}-psycopg2 depends on in this repository: build with --pg N"
	PG_MAJOR=$_psycopg_pg
	echo "PostgreSQL $PG_MAJOR: the major ${PY_FLAVOR}-psycopg2 depends on in this repository"
elif [ -n "$_psycopg_pg" ] && [ "$_psycopg_pg" != "$PG_MAJOR" ]; then
	echo "warning: ${PY_FLAVOR}-psycopg2 depends on postgresql${_psycopg_pg}-client, not $PG_MAJOR; the one-major check below will say whether the install kept to $PG_MAJOR" >&2
fi

# Patroni from the package when the repository has one, else a pinned Patroni from PyPI with pip, over
# the packaged psycopg2 and DCS clients (as potluck's own image does). Patroni 4.x declares py-consul; its
# consul module works with the API of python-consul2, which is what the package set carries.
step "Choose how Patroni is installed"
PATRONI_DEPS="${PY_FLAVOR}-urllib3 ${PY_FLAVOR}-pyyaml ${PY_FLAVOR}-click ${PY_FLAVOR}-prettytable
${PY_FLAVOR}-python-dateutil ${PY_FLAVOR}-psutil ${PY_FLAVOR}-ydiff"
if [ -n "$(pkg rquery '%n' "${PY_FLAVOR}-patroni" 2>/dev/null)" ]; then
	PATRONI_FROM="package"
	PATRONI_PACKAGES="${PY_FLAVOR}-patroni"
else
	[ -n "$PATRONI_PIP" ] || fail "build.conf: PATRONI_PIP is empty and the repository has no ${PY_FLAVOR}-patroni"
	PATRONI_FROM="pip"
	PATRONI_PACKAGES="${PY_FLAVOR}-pip"
fi
if [ "$PATRONI_FROM" = package ]; then
	echo "Patroni: from the package ${PY_FLAVOR}-patroni"
else
	echo "Patroni: ${PY_FLAVOR}-patroni is not in this repository; pip installs patroni==$PATRONI_PIP"
fi

# Exactly what the jail runs: one PostgreSQL major, Patroni with both DCS clients it may be configured
# for (python-consul2 provides the "consul" module, python-etcd the "etcd" module Patroni's etcd3 uses),
# the Consul agent, node_exporter, postgres_exporter (databases/postgres_exporter: its rc script reads
# postgres_exporter_* from rc.conf, which cook sets), the node runtime of the cook, and pgBackRest with what
# the backup scripts call (curl asks Patroni's REST API for the role, jq reads `pgbackrest info`).
# databases/pgbackrest is built USES=pgsql like psycopg2: its package depends on the client of the package
# set's default PostgreSQL major, which the one-major check below catches. Nothing to build software with.
PACKAGES="postgresql${PG_MAJOR}-server postgresql${PG_MAJOR}-client postgresql${PG_MAJOR}-contrib
${PY_FLAVOR}-psycopg2 $PATRONI_PACKAGES ${PY_FLAVOR}-python-consul2 ${PY_FLAVOR}-python-etcd
consul node_exporter postgres_exporter node22 pgbackrest curl jq"

# PostgreSQL first and one package at a time, so that a failure names the package.
for _pkg in $PACKAGES; do
	step "Install $_pkg"
	pkg install -y "$_pkg"
done

if [ "$PATRONI_FROM" = pip ]; then
	# Patroni's own dependencies from packages where the set has them; pip fetches the rest.
	for _pkg in $PATRONI_DEPS; do
		step "Install $_pkg (for Patroni)"
		pkg install -y "$_pkg" || echo "$_pkg is not in this repository: pip installs it with Patroni"
	done
	step "Install Patroni $PATRONI_PIP with pip"
	"$R/usr/local/bin/pip-${PYTHON#python}" install --no-cache-dir --progress-bar off "patroni==$PATRONI_PIP"
fi

step "Check that every package is installed and that there is exactly one PostgreSQL major"
for _pkg in $PACKAGES; do
	pkg info -e "$_pkg" || fail "$_pkg is not installed (a later package may have replaced it)"
done
_majors=$(pkg query '%n' | sed -n 's/^postgresql\([0-9][0-9]*\)-.*/\1/p' | sort -u | tr '\n' ' ')
if [ "$_majors" != "$PG_MAJOR " ]; then
	fail "PostgreSQL majors installed: ${_majors:-none}; wanted only $PG_MAJOR. A binary package (psycopg2 and pgbackrest are built against the package set's default PostgreSQL) pulled another major: build with that major (--pg) instead"
fi

step "Check the Python modules Patroni needs"
"$R/usr/local/bin/$PYTHON" -c 'import patroni, consul, etcd' ||
	fail "Patroni or one of its DCS modules (consul, etcd) cannot be imported"
"$R/usr/local/bin/$PYTHON" -c 'import psycopg2' 2>/dev/null || "$R/usr/local/bin/$PYTHON" -c 'import psycopg' ||
	fail "neither psycopg2 nor psycopg can be imported: Patroni cannot talk to PostgreSQL"

_patroni_version=$("$R/usr/local/bin/$PYTHON" -c 'import patroni; print(patroni.__version__)' 2>/dev/null || echo unknown)
echo "Patroni $_patroni_version, from the $PATRONI_FROM"

step "Check the users the packages create"
pw usershow postgres >/dev/null || fail "the postgresql${PG_MAJOR}-server package did not create the postgres user"
pw usershow consul >/dev/null || fail "the consul package did not create the consul user"
# postgres_exporter runs as a user of its own: only it may read the monitor role's password file.
pw usershow pgmonitor >/dev/null 2>&1 ||
	pw useradd pgmonitor -c "postgres_exporter (patroni-postgresql image)" -d /nonexistent -s /usr/sbin/nologin ||
	fail "cannot create the pgmonitor user for postgres_exporter"
# node_exporter too (not the port's shared `nobody`): only it may read its web config and key copy.
pw usershow nodeexport >/dev/null 2>&1 ||
	pw useradd nodeexport -c "node_exporter (patroni-postgresql image)" -d /nonexistent -s /usr/sbin/nologin ||
	fail "cannot create the nodeexport user for node_exporter"

step "Install the cook to /usr/local/share/cook"
[ -s "$STAGE/cook/dist/cook.mjs" ] || fail "the cook bundle $STAGE/cook/dist/cook.mjs is missing"
[ -d "$STAGE/cook/templates" ] || fail "the cook templates $STAGE/cook/templates are missing"
rm -rf "$R/usr/local/share/cook"
mkdir -p "$R/usr/local/share/cook" "$R/usr/local/bin" "$R/usr/local/etc/rc.d"
# dist/ and templates/ stay siblings: the bundle reads its templates from ../templates/ beside itself.
cp -R "$STAGE/cook/dist" "$STAGE/cook/templates" "$R/usr/local/share/cook/"
cp "$STAGE/bin/cook" "$STAGE/bin/cook-stop" "$R/usr/local/bin/"
cp "$STAGE/rc.d/cook" "$R/usr/local/etc/rc.d/cook"
chown -R 0:0 "$R/usr/local/share/cook" "$R/usr/local/bin/cook" "$R/usr/local/bin/cook-stop" \
	"$R/usr/local/etc/rc.d/cook"
find "$R/usr/local/share/cook" -type d -exec chmod 0755 {} +
find "$R/usr/local/share/cook" -type f -exec chmod 0644 {} +
chmod 0755 "$R/usr/local/bin/cook" "$R/usr/local/bin/cook-stop"
chmod 0555 "$R/usr/local/etc/rc.d/cook"

# What the image holds and where it came from, for operators (`cat /usr/local/share/cook/image.txt`).
cat > "$R/usr/local/share/cook/image.txt" <<EOF
image:      patroni-postgresql $IMAGE_VERSION
postgresql: $PG_MAJOR
patroni:    $_patroni_version ($PATRONI_FROM)
python:     $PYTHON
EOF
chmod 0644 "$R/usr/local/share/cook/image.txt"

step "Check that the installed cook runs on this node"
_version=$("$R/usr/local/bin/node" "$R/usr/local/share/cook/dist/cook.mjs" --version) ||
	fail "the cook bundle does not run on $("$R/usr/local/bin/node" --version 2>&1 || echo 'no node')"
[ "$_version" = "$IMAGE_VERSION" ] || fail "the cook reports version '$_version', the image is $IMAGE_VERSION"

# Normal mode: pot.cmd is "sh /etc/rc", and /etc/rc runs the cook service. The Nomad flavour
# (patroni-postgresql+4) later replaces this file with one that says NO, because there pot runs cook
# itself as pot.cmd. One file holds the setting, so "sysrc -f /etc/rc.conf.d/cook" shows the truth.
step "Enable the cook service (normal mode)"
mkdir -p "$R/etc/rc.conf.d"
touch "$R/etc/rc.conf" "$R/etc/rc.conf.d/cook"
sysrc -f "$R/etc/rc.conf.d/cook" cook_enable=YES

step "Disable sendmail and sshd"
sysrc -f "$R/etc/rc.conf" sendmail_enable=NO sendmail_submit_enable=NO sendmail_outbound_enable=NO \
	sendmail_msp_queue_enable=NO sshd_enable=NO

step "Remove package caches and build leftovers"
pkg clean -a -y
rm -rf "$R"/var/cache/pkg/* "$R"/var/db/pkg/repos/* "$R"/var/db/freebsd-update/*
rm -rf "$STAGE"

trap - EXIT
echo "patroni-postgresql.sh: done (PostgreSQL $PG_MAJOR, cook $IMAGE_VERSION)"
