#!/bin/sh
# Patroni runs this once, on the member that creates the cluster, as the postgres user.
# $1 is a connection string for the superuser; Patroni sets PGPASSFILE for its password.
# The admin role's password arrives as a SCRAM verifier in a 0600 file: never in argv or a log.
set -eu
'/usr/local/bin/psql' -X -q -v ON_ERROR_STOP=1 -d "$1" -f '/usr/local/etc/patroni/admin-role.sql'
