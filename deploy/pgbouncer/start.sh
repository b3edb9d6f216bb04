#!/bin/sh
# Start PgBouncer in transaction mode in front of one PostgreSQL database, configured from
# the environment (the image's entrypoint; tests/deploy runs it with Debian's pgbouncer):
#
#   PGBOUNCER_SERVER_HOST  the primary's host (required); PGBOUNCER_SERVER_PORT (5432)
#   PGBOUNCER_DATABASE     the database clients ask for and the server has (astrocoffee)
#   PGBOUNCER_USER, PGBOUNCER_PASSWORD
#                          the one login (required): clients prove it with SCRAM, and
#                          PgBouncer logs in to the server with it
#   PGBOUNCER_POOL_SIZE    server connections at most, whatever the number of clients (20)
#   PGBOUNCER_MAX_CLIENT_CONN  client connections at most (2000)
#   PGBOUNCER_SERVER_TLS   server_tls_sslmode towards PostgreSQL (prefer)
#   PGBOUNCER_PORT (6432), PGBOUNCER_RUN_DIR (/tmp/pgbouncer: the generated files)
#
# Transaction mode: a server connection is lent for one transaction. The app is built for it
# (DATABASE_PGBOUNCER=true: no named prepared statements, no session state; db/pgbouncer.py);
# migrations go to the primary itself (DATABASE_MIGRATION_URL). ignore_startup_parameters
# stays empty: the app sends only parameters PgBouncer passes on.
set -eu
: "${PGBOUNCER_SERVER_HOST:?set PGBOUNCER_SERVER_HOST (the PostgreSQL primary)}"
: "${PGBOUNCER_USER:?set PGBOUNCER_USER}"
: "${PGBOUNCER_PASSWORD:?set PGBOUNCER_PASSWORD}"
database=${PGBOUNCER_DATABASE:-astrocoffee}
pool=${PGBOUNCER_POOL_SIZE:-20}
run=${PGBOUNCER_RUN_DIR:-/tmp/pgbouncer}

umask 077
mkdir -p "$run"
# The password is quoted as PgBouncer's auth_file wants it: a double quote doubled.
escaped=$(printf '%s' "$PGBOUNCER_PASSWORD" | sed 's/"/""/g')
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$escaped" > "$run/userlist.txt"
cat > "$run/pgbouncer.ini" <<INI
[databases]
$database = host=$PGBOUNCER_SERVER_HOST port=${PGBOUNCER_SERVER_PORT:-5432} dbname=$database

[pgbouncer]
listen_addr = *
listen_port = ${PGBOUNCER_PORT:-6432}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $run/userlist.txt
pool_mode = transaction
default_pool_size = $pool
max_db_connections = $pool
reserve_pool_size = 0
max_client_conn = ${PGBOUNCER_MAX_CLIENT_CONN:-2000}
; A client waits this long for a server connection, then gets an error: a saturated pool
; shows as failing requests (and astrocoffee_db_* metrics), not as an unbounded queue.
query_wait_timeout = 15
server_idle_timeout = 600
server_lifetime = 3600
server_tls_sslmode = ${PGBOUNCER_SERVER_TLS:-prefer}
ignore_startup_parameters =
log_connections = 0
log_disconnections = 0
stats_period = 60
INI
exec /usr/sbin/pgbouncer "$run/pgbouncer.ini"
