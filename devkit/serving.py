"""An ASGI app (the loyalty app, a fake) served by a real uvicorn inside the caller's event
loop, on a free port of 127.0.0.1: in-process, so the caller sees and sets its state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from devkit.ports import free_port


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yield its host:port once it listens."""
    import uvicorn

    from backend.ops.http_protocol import BoundedHttpToolsProtocol

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            http=BoundedHttpToolsProtocol,  # as `astrocoffee serve` runs it
            ws="websockets-sansio",
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
