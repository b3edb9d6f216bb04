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


async def start_pool() -> None:
    global _users
    from db import piccolo_conf

    if _users == 0:
        for node in (engine(), *engine().extra_nodes.values()):
            # A replica opens no connection up front (min 0): one that is down must not
            # stop the process from starting; its reads go to the primary meanwhile.
            first = node is engine()
            # asyncpg's reset query on release costs a round trip per request (3 % of a
            # purchase's CPU), but when it fails the pool drops the connection instead of
            # lending it again. A PostgreSQL restart leaves such connections (the restart
            # test met them, with or without the reset, as a BEGIN failing with "another
            # operation is in progress", now a 503), so it stays.
            await node.start_connection_pool(
                min_size=piccolo_conf.POOL_MIN_SIZE if first else 0,
                max_size=piccolo_conf.POOL_MAX_SIZE,
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
