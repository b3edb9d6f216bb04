"""Run the HTTP and WebSocket server: uvicorn with this app's protocol and socket settings."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import uvicorn

from backend.ops.http_protocol import BoundedHttpToolsProtocol
from backend.settings import Settings

log = logging.getLogger("astrocoffee")


def serve(settings: Settings) -> None:
    """Serve ``backend.app:create_app`` on the settings' host, port and workers until stopped."""
    host, port, workers = settings.host, settings.port, settings.workers
    if workers > 1:
        _share_metrics_between_workers()
    log.info("serving on http://%s:%s with %d worker(s)", host, port, workers)
    uvicorn.run("backend.app:create_app", **uvicorn_options(settings))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for an app factory (also those of `make bench`'s bare Litestar peer,
    so that the two are compared on the same server)."""
    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "loop": "uvloop",
        # httptools with a bound on the request head (uvicorn has no option for it).
        "http": BoundedHttpToolsProtocol,
        "ws": "websockets-sansio",
        "ws_max_size": settings.ws_max_frame_bytes,
        # No permessage-deflate: a compressed connection keeps zlib state (37 of the 81 KiB
        # an idle connection cost in `make bench`, and fan-out ran at a third of the speed),
        # while events are a few hundred bytes of JSON that compress to little anyway.
        "ws_per_message_deflate": False,
        # Heartbeats: WebSocket pings; a client that does not answer in time is closed.
        "ws_ping_interval": settings.ws_heartbeat_s,
        "ws_ping_timeout": settings.ws_heartbeat_s,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_graceful_shutdown": 10,
    }


def _share_metrics_between_workers() -> None:
    """prometheus-client's multiprocess mode, so that /metrics adds up every worker.

    The folder must be empty at start (files of an earlier run would be counted again); one
    is made when PROMETHEUS_MULTIPROC_DIR is not given. Set before the workers start: they
    read it when they first import prometheus-client.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = tempfile.mkdtemp(prefix="astrocoffee-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    log.info("metrics of all workers are added up in %s", folder)
