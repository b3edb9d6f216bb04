"""Resolve which PostgreSQL and Redis this process uses, starting embedded ones if needed."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import msgspec

from backend.settings import Settings
from db.embedded import start_embedded_servers

log = logging.getLogger(__name__)


def ensure_servers(settings: Settings) -> tuple[Settings, tuple[Any, ...]]:
    """Return settings with both URLs set, and handles that keep embedded servers alive.

    The URLs are also exported to the environment: Piccolo's engine (``db.piccolo_conf``)
    and uvicorn's worker processes read them from there.
    """
    handles: tuple[Any, ...] = ()
    if settings.uses_embedded_servers:
        data_dir = Path(settings.data_dir).resolve()
        servers = start_embedded_servers(data_dir)
        handles = servers.handles
        settings = msgspec.structs.replace(
            settings, database_url=servers.database_url, redis_url=servers.redis_url
        )
        log.warning(
            "DATABASE_URL and REDIS_URL are unset: using embedded PostgreSQL and Redis "
            "(development only) with data in %s",
            data_dir,
        )
    else:
        log.info("using external PostgreSQL and Redis from DATABASE_URL and REDIS_URL")
    assert settings.database_url is not None
    assert settings.redis_url is not None
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["REDIS_URL"] = settings.redis_url
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    return settings, handles
