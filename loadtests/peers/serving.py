"""What the bare peers share: the readiness route the benches wait on, their app made of
their own routes and that one only, and serving it with `astrocoffee serve`'s own uvicorn
settings (``backend.ops.serving.uvicorn_options``), so that they are compared on the same
server."""

from __future__ import annotations

import argparse
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, get


@get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def bare_app(*handlers: Any) -> Litestar:
    """``handlers`` and the readiness route: no middleware, no OpenAPI document."""
    return Litestar([*handlers, ready], openapi_config=None)


def serve(factory: str) -> None:
    """Serve the app factory ``factory`` (``module:function``) on ``--port`` with
    ``--workers`` processes (default 1)."""
    from backend.ops.serving import uvicorn_options
    from backend.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = msgspec.structs.replace(load_settings(), port=args.port, workers=args.workers)
    uvicorn.run(factory, **uvicorn_options(settings))
