"""Piccolo configuration: one PostgreSQL engine built from ``DATABASE_URL``.

``PICCOLO_CONF=db.piccolo_conf`` points Piccolo here. The URL is read from the environment
at import time on purpose: the CLI starts the embedded server first (when no URL is set) and
exports its URL before anything imports a table.
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

_url = os.environ.get("DATABASE_URL")
if not _url:
    raise RuntimeError(
        "DATABASE_URL is not set. Start the service through `astrocoffee` (which starts an "
        "embedded PostgreSQL when no URL is given) or export DATABASE_URL."
    )

DB = PostgresEngine(
    config={
        "dsn": _url,
        # A hung query must not hold a pool slot (and a request) forever.
        "command_timeout": float(os.environ.get("DATABASE_COMMAND_TIMEOUT", "10")),
    },
)

# Pool sizes are not connection options: Piccolo also opens single connections with this
# config, so they are passed when the pool starts (see ``db.pool``).
POOL_MIN_SIZE = int(os.environ.get("DATABASE_POOL_MIN", "2"))
POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX", "10"))

APP_REGISTRY = AppRegistry(apps=["db.piccolo_app"])
