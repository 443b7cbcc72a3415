#!/bin/sh
# Patroni runs this once, on the member that creates the cluster, as the postgres user.
# $1 is a connection string for the superuser; Patroni sets PGPASSFILE for its password.
# The roles' passwords arrive as SCRAM verifiers in 0600 files: never in argv or a log.
set -eu
# psql and pgbackrest refuse a server that asks for anything weaker than SCRAM (libpq 16 and later).
PGREQUIREAUTH='scram-sha-256'
export PGREQUIREAUTH
'/usr/local/bin/psql' -X -q -v ON_ERROR_STOP=1 -d "$1" -f '/usr/local/etc/patroni/admin-role.sql' -f '/usr/local/etc/patroni/monitor-role.sql'
