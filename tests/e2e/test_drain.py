"""A real `astrocoffee serve` told to stop (SIGTERM) closes its WebSockets with 1012 spread over
ASTROCOFFEE_WS_DRAIN_WINDOW_S, then exits (realtime/drain.py; docs/deploy.md#graceful-shutdown)."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import login, serve_processes
from tests.servers import RunServers

SOCKETS = 20
WINDOW_S = 3


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_sigterm_closes_the_sockets_spread_over_the_drain_window(
    servers: RunServers, workers: str
) -> None:
    """With 2 workers, uvicorn's supervisor passes SIGTERM on to each: each drains its own."""
    with serve_processes(
        servers, 1, "--workers", workers, ASTROCOFFEE_WS_DRAIN_WINDOW_S=str(WINDOW_S)
    ) as (server,):
        async with httpx.AsyncClient(base_url=f"http://{server.address}", timeout=10) as api:
            tokens = await login(api)
        url = f"ws://{server.address}/v1/ws?token={tokens['access_token']}"
        phones = [await websockets.connect(url) for _ in range(SOCKETS)]
        try:
            for phone in phones:
                assert json.loads(await asyncio.wait_for(phone.recv(), 20))["type"] == "ready"

            async def closed_at(phone: websockets.ClientConnection) -> tuple[float, int | None]:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(phone.recv(), WINDOW_S + 15)
                rcvd = closed.value.rcvd
                return time.monotonic(), None if rcvd is None else rcvd.code

            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            closes = await asyncio.gather(*(closed_at(phone) for phone in phones))
        finally:
            for phone in phones:
                await phone.close()
        status = await asyncio.to_thread(server.process.wait, 30)

    assert {code for _, code in closes} == {1012}
    moments = sorted(at - signalled for at, _ in closes)
    # Within the window (the machine's lateness aside), and spread over it, not one instant.
    assert moments[-1] <= WINDOW_S + 5
    assert moments[-1] - moments[0] >= WINDOW_S / 3
    # One worker re-raises SIGTERM after its shutdown (uvicorn); the supervisor of several
    # exits 0 once its workers have.
    assert status in ((-signal.SIGTERM, 128 + signal.SIGTERM) if workers == "1" else (0,))
    assert "Traceback" not in server.log_text(tail=0)
