"""Start and stop the connection pool of the one Piccolo engine.

Piccolo's engine, and so its pool, is one per process. Several app instances in a process
(tests run more than one) share it: the pool opens with the first and closes with the last.
"""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

_users = 0


def engine() -> PostgresEngine:
    from db import piccolo_conf

    return piccolo_conf.DB


async def start_pool() -> None:
    global _users
    from db import piccolo_conf

    if _users == 0:
        await piccolo_conf.DB.start_connection_pool(
            min_size=piccolo_conf.POOL_MIN_SIZE, max_size=piccolo_conf.POOL_MAX_SIZE
        )
    _users += 1


async def close_pool() -> None:
    global _users
    _users -= 1
    if _users == 0:
        await engine().close_connection_pool()
