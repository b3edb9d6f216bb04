"""asyncpg's options for a URL that points at PgBouncer in transaction mode.

In transaction mode PgBouncer lends a server connection for one transaction only, so what
asyncpg keeps per connection breaks behind it (both seen against Debian's PgBouncer 1.18 in
``tests/e2e/test_pgbouncer.py``):

- its statement cache prepares *named* statements on the server connection of the moment and
  reuses them on whichever comes next ("prepared statement ... does not exist"). With
  ``statement_cache_size=0`` it sends unnamed statements and parses them again in the same
  round trip as their execution. (PgBouncer 1.21+ can track named ones with
  ``max_prepared_statements``; 1.18 cannot.)
- PgBouncer refuses a connection whose startup packet has a parameter it does not track
  ("unsupported startup parameter"), such as ``default_transaction_read_only``. It tracks
  only the ones below, and sets them on each server connection it lends.

Session state does not survive a transaction either: advisory locks here are transaction
scoped (``pg_advisory_xact_lock``), settings are ``set_config(..., true)`` (``SET LOCAL``),
nothing LISTENs, and the migration lock, the one session lock, is taken on a direct
connection (``DATABASE_MIGRATION_URL``, see ``db.migrate``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# The startup parameters PgBouncer 1.18 passes on (any other one refuses the connection).
TRACKED_PARAMETERS = frozenset(
    {"client_encoding", "datestyle", "timezone", "standard_conforming_strings", "application_name"}
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def behind_pgbouncer(variable: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment variable ``variable`` (``DATABASE_PGBOUNCER``, ...) says its
    URL points at PgBouncer; a value that is neither yes nor no is refused, not guessed."""
    value = (os.environ if environ is None else environ).get(variable, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RuntimeError(f"{variable}={value!r}: say true or false")


def connection_config(
    *,
    dsn: str,
    command_timeout: float,
    pgbouncer: bool,
    server_settings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Piccolo's ``PostgresEngine`` config (asyncpg's connect arguments) for ``dsn``."""
    config: dict[str, Any] = {"dsn": dsn, "command_timeout": command_timeout}
    settings = dict(server_settings or {})
    if pgbouncer:
        config["statement_cache_size"] = 0
        settings = {k: v for k, v in settings.items() if k.lower() in TRACKED_PARAMETERS}
    if settings:
        config["server_settings"] = settings
    return config
