"""Piccolo configuration: the PostgreSQL primary from ``DATABASE_URL``, and optionally a
streaming read replica from ``DATABASE_REPLICA_URL`` (Piccolo's ``extra_nodes``).

``PICCOLO_CONF=db.piccolo_conf`` points Piccolo here. The URL is read from the environment
at import time on purpose: the CLI starts the embedded server first (when no URL is set) and
exports its URL before anything imports a table.
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from db.pgbouncer import behind_pgbouncer, connection_config
from db.replica import REPLICA, replica_engine

_url = os.environ.get("DATABASE_URL")
if not _url:
    raise RuntimeError(
        "DATABASE_URL is not set. Start the service through `astrocoffee` (which starts an "
        "embedded PostgreSQL when no URL is given) or export DATABASE_URL."
    )

# A hung query must not hold a pool slot (and a request) forever.
_COMMAND_TIMEOUT = float(os.environ.get("DATABASE_COMMAND_TIMEOUT", "10"))

# Reads that tolerate lag (history, reports) run on this node when a replica is configured
# and keeps within its lag bound (see ``db.replica``); its sessions are read-only.
_replica_url = os.environ.get("DATABASE_REPLICA_URL")
_replicas = (
    {
        REPLICA: replica_engine(
            dsn=_replica_url,
            command_timeout=_COMMAND_TIMEOUT,
            pgbouncer=behind_pgbouncer("DATABASE_REPLICA_PGBOUNCER"),
        )
    }
    if _replica_url
    else {}
)

# DATABASE_PGBOUNCER / DATABASE_REPLICA_PGBOUNCER=true: that URL points at PgBouncer in
# transaction mode; asyncpg then keeps no statement cache and sends only the startup
# parameters PgBouncer passes on (``db.pgbouncer``).
DB = PostgresEngine(
    config=connection_config(
        dsn=_url, command_timeout=_COMMAND_TIMEOUT, pgbouncer=behind_pgbouncer("DATABASE_PGBOUNCER")
    ),
    extra_nodes=_replicas,
)

# Pool sizes are not connection options: Piccolo also opens single connections with this
# config, so they are passed when the pool starts (see ``db.pool``).
POOL_MIN_SIZE = int(os.environ.get("DATABASE_POOL_MIN", "2"))
POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX", "10"))

APP_REGISTRY = AppRegistry(apps=["db.piccolo_app"])
