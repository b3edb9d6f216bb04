#!/usr/bin/env bash
# Entrypoint of the compose read replica (runs as the image's `postgres` user). First start:
# clone the primary with pg_basebackup, which also writes standby.signal and primary_conninfo
# (-R), into a side folder that is renamed only when complete, so a clone cut short is never
# started. Later starts: just start; the standby streams from the primary through its slot.
set -euo pipefail
: "${PRIMARY_HOST:?set PRIMARY_HOST}" "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
PGDATA=${PGDATA:?set PGDATA (a folder inside the volume)}
SLOT=${REPLICATION_SLOT:-replica1}
export PGPASSWORD=$REPLICATION_PASSWORD # read by pg_basebackup, written into primary_conninfo

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  partial="$PGDATA.partial"
  until
    rm -rf "$partial"
    pg_basebackup --host="$PRIMARY_HOST" --port="${PRIMARY_PORT:-5432}" --username=replicator --no-password \
      --pgdata="$partial" --wal-method=stream --slot="$SLOT" --write-recovery-conf \
      --checkpoint=fast
  do
    echo "replica: cloning $PRIMARY_HOST failed; retrying in 5 s" >&2
    sleep 5
  done
  chmod 0700 "$partial"
  rm -rf "$PGDATA"
  mv "$partial" "$PGDATA"
  echo "replica: cloned $PRIMARY_HOST into $PGDATA"
fi

# hot_standby_feedback: long report queries here are not cancelled by the primary's vacuum
# (at the price of some bloat on the primary while they run).
exec postgres -D "$PGDATA" -c hot_standby=on -c hot_standby_feedback=on
