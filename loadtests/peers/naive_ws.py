"""`make bench`'s floor for an idle socket: a naive Litestar WebSocket app, served by uvicorn
with `astrocoffee serve`'s own settings (``backend.ops.serving.uvicorn_options``). A socket
is accepted, gets one ``{"type":"ready"}`` frame, and its handler waits for frames until the
client leaves. No authentication, no Redis, no middleware: what the framework and the server
cost per connection on their own.

    python -m loadtests.peers.naive_ws --port 8001
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect


@websocket("/v1/ws")
async def stream(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_text('{"type":"ready"}')
    try:
        while True:
            await socket.receive_text()
    except WebSocketDisconnect:
        return


@get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def create_app() -> Litestar:
    return Litestar([stream, ready], openapi_config=None)


def main() -> None:
    from backend.ops.serving import uvicorn_options
    from backend.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = msgspec.structs.replace(load_settings(), port=args.port, workers=1)
    uvicorn.run("loadtests.peers.naive_ws:create_app", **uvicorn_options(settings))


if __name__ == "__main__":
    main()
