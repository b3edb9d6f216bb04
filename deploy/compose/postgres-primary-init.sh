#!/usr/bin/env bash
# First start of the compose primary only (/docker-entrypoint-initdb.d; the image runs it
# once, when it creates the data directory): a login for the streaming replica, its
# replication slot, and a pg_hba.conf line letting it in with its password.
# (The image sources a script that is not executable: so no `set -u` here, which would leak
# into its entrypoint; it runs with `set -eo pipefail` either way.)
set -eo pipefail
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD}"

# The password travels as a psql variable (:'password' quotes it), never inside the SQL text.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
-- The primary keeps the WAL the replica has not received yet (bounded by
-- max_slot_wal_keep_size), so a replica restart never needs a new clone.
SELECT pg_create_physical_replication_slot('replica1');
SQL

# Replication connections match only lines naming `replication`, not the image's `all` line.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
