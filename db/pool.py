"""Start and stop the connection pool of the one Piccolo engine."""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine


def engine() -> PostgresEngine:
    from db import piccolo_conf

    return piccolo_conf.DB


async def start_pool() -> None:
    from db import piccolo_conf

    await piccolo_conf.DB.start_connection_pool(
        min_size=piccolo_conf.POOL_MIN_SIZE, max_size=piccolo_conf.POOL_MAX_SIZE
    )


async def close_pool() -> None:
    await engine().close_connection_pool()
