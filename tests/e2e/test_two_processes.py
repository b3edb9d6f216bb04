"""The whole slice across two real ``astrocoffee serve`` processes sharing PostgreSQL and Redis.

A sale recorded by process A reaches a phone connected to process B: the fan-out through
Redis is real, not an in-process shortcut.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.cli import SCRIPT, run_env
from tests.conftest import free_port
from tests.factories import open_till, purchase_body, unique_phone
from tests.servers import ROOT, RunServers

pytestmark = pytest.mark.e2e
DEV_CODE = "246810"


@pytest.fixture
def two_processes(servers: RunServers) -> Iterator[tuple[str, str]]:
    env = run_env(servers, ASTROCOFFEE_DEV_OTP_CODE=DEV_CODE, ASTROCOFFEE_LOG_LEVEL="WARNING")
    ports = (free_port(), free_port())
    processes = [
        subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    try:
        for process, port in zip(processes, ports, strict=True):
            _wait_ready(process, f"http://127.0.0.1:{port}")
        yield f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # pragma: no cover - diagnostics only
                process.kill()
                process.wait()
            assert process.stderr is not None
            process.stderr.close()


def _wait_ready(process: subprocess.Popen[str], base_url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"serve exited early: {process.stderr.read()}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base_url} did not become ready")


async def _login(api: httpx.AsyncClient) -> dict[str, str]:
    phone = unique_phone()
    assert (await api.post("/v1/auth/otp", json={"phone": phone})).status_code == 202
    tokens = (await api.post("/v1/auth/token", json={"phone": phone, "code": DEV_CODE})).json()
    return dict(tokens)


async def test_a_sale_on_process_a_reaches_a_phone_on_process_b(
    two_processes: tuple[str, str],
) -> None:
    a, b = two_processes
    till = await open_till()
    async with httpx.AsyncClient(base_url=f"http://{a}", timeout=10) as api_a:
        tokens = await _login(api_a)
        stranger = await _login(api_a)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = (await api_a.get("/v1/me", headers=auth)).json()

        async with (
            websockets.connect(f"ws://{b}/v1/ws?token={tokens['access_token']}") as phone_ws,
            websockets.connect(f"ws://{b}/v1/ws?token={tokens['access_token']}") as tablet_ws,
            websockets.connect(f"ws://{a}/v1/ws?token={tokens['access_token']}") as laptop_ws,
            websockets.connect(f"ws://{b}/v1/ws?token={stranger['access_token']}") as stranger_ws,
        ):
            for ws in (phone_ws, tablet_ws, laptop_ws, stranger_ws):
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"

            sale = await api_a.post(
                "/v1/purchases",
                json=purchase_body(me["card_number"], amount=35000),
                headers={**till.headers, "Idempotency-Key": "e2e-1"},
            )
            assert sale.status_code == 201, sale.text

            for device in (phone_ws, tablet_ws, laptop_ws):  # every device, on either process
                frames = [json.loads(await asyncio.wait_for(device.recv(), 10)) for _ in range(2)]
                balance = next(f for f in frames if f["type"] == "balance.updated")
                assert balance["data"]["available"] == 17
                assert balance["data"]["purchase_id"] == sale.json()["purchase_id"]
            # Another member's socket on process B got nothing: its next frame is our pong.
            await stranger_ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(stranger_ws.recv(), 10)) == {"type": "pong"}

    async with httpx.AsyncClient(base_url=f"http://{b}", timeout=10) as api_b:
        seen_by_b = await api_b.get("/v1/me", headers=auth)
        assert seen_by_b.json()["balance"]["available"] == 17
