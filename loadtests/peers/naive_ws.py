"""`make bench`'s floor for an idle socket: a naive Litestar WebSocket app, served by uvicorn
with `astrocoffee serve`'s own settings (``backend.ops.serving.uvicorn_options``). A socket
is accepted, gets one ``{"type":"ready"}`` frame, and its handler waits for frames until the
client leaves. No authentication, no Redis, no middleware: what the framework and the server
cost per connection on their own.

    python -m loadtests.peers.naive_ws --port 8001
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from loadtests.peers.serving import bare_app, serve


@websocket("/v1/ws")
async def stream(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_text('{"type":"ready"}')
    try:
        while True:
            await socket.receive_text()
    except WebSocketDisconnect:
        return


def create_app() -> Litestar:
    return bare_app(stream)


if __name__ == "__main__":
    serve("loadtests.peers.naive_ws:create_app")
