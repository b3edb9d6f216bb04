"""Start and stop the connection pools of the Piccolo engine (primary and read replica).

Piccolo's engine, and so its pool, is one per process. Several app instances in a process
(tests run more than one) share it: the pools open with the first and close with the last.
"""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

from db import replica

_users = 0


def engine() -> PostgresEngine:
    from db import piccolo_conf

    return piccolo_conf.DB


def lagging_reads() -> str | None:
    """The node for reads that tolerate lag: the read replica while it is configured, up and
    within its lag bound (``db.replica``), else the primary (None). Writes and
    read-your-writes never use it."""
    return replica.lagging_node()


async def _nothing_to_reset(connection: object) -> None:
    """The pool's reset of a connection given back, after asyncpg's own part of it (a
    transaction left open is rolled back, listeners dropped; a closed connection is not lent
    again). asyncpg's reset query (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL``) undoes session state this app never keeps on a pooled connection (advisory locks
    and settings are transaction-scoped, nothing LISTENs: see ``db.pgbouncer``), and it was a
    round trip per request, 7 % of a sale's server CPU in the purchases profile (issue #24).
    A connection PostgreSQL broke while it sat idle fails its next statement instead, as it
    could with the reset query too (the restart test met it): 503, and the pool drops it."""


async def start_pool() -> None:
    global _users
    from db import piccolo_conf

    if _users == 0:
        for node in (engine(), *engine().extra_nodes.values()):
            # A replica opens no connection up front (min 0): one that is down must not
            # stop the process from starting; its reads go to the primary meanwhile.
            first = node is engine()
            await node.start_connection_pool(
                min_size=piccolo_conf.POOL_MIN_SIZE if first else 0,
                max_size=piccolo_conf.POOL_MAX_SIZE,
                reset=_nothing_to_reset,
            )
        if replica.REPLICA in engine().extra_nodes:
            await replica.start_watching(
                primary=engine(), replica=engine().extra_nodes[replica.REPLICA]
            )
    _users += 1


async def close_pool() -> None:
    global _users
    _users -= 1
    if _users == 0:
        await replica.stop_watching()
        for node in (engine(), *engine().extra_nodes.values()):
            await node.close_connection_pool()
