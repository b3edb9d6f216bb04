"""Operating the service: metrics added up over uvicorn workers, graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import login, serve_processes
from tests.servers import RunServers

pytestmark = pytest.mark.e2e


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (labels matched as given)."""
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.partition(" ")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels} in:\n{metrics}")


def test_metrics_add_up_every_worker(servers: RunServers, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_stale.db").write_bytes(b"left by an earlier run")
    two_workers = serve_processes(
        servers, 1, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(folder)
    )
    with (
        two_workers as (server,),
        httpx.Client(base_url=f"http://{server.address}", timeout=10) as api,
    ):
        assert not (folder / "counter_stale.db").exists()  # earlier runs do not count
        for _ in range(40):
            assert api.get("/health/live").status_code == 200
        # Requests were spread over both workers, yet any worker's answer counts them all.
        for _ in range(6):
            metrics = api.get("/metrics").text
            served = _sample(metrics, "astrocoffee_requests_total", path="/health/live")
            assert served == 40
        # Sampled every 5 s by each worker; the worst of the live workers is reported.
        deadline = time.monotonic() + 15
        while _sample(metrics, "astrocoffee_ready") != 1 and time.monotonic() < deadline:
            time.sleep(0.5)
            metrics = api.get("/metrics").text
        assert _sample(metrics, "astrocoffee_ready") == 1
        in_use = _sample(metrics, "astrocoffee_db_pool_connections", node="primary", state="idle")
        assert in_use >= 2  # both workers' pools (min size 2 each) are open
        pids = {p.name.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}
        assert len(pids) == 2


async def test_sigterm_closes_websockets_with_a_reconnect_code(servers: RunServers) -> None:
    with serve_processes(servers, 1) as (server,):
        async with httpx.AsyncClient(base_url=f"http://{server.address}", timeout=10) as api:
            tokens = await login(api)
        async with websockets.connect(
            f"ws://{server.address}/v1/ws?token={tokens['access_token']}"
        ) as phone:
            assert json.loads(await asyncio.wait_for(phone.recv(), 10))["type"] == "ready"
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(phone.recv(), 15)
        # 1012 "service restart": the client reconnects (elsewhere) and resumes.
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        # Then it exits by itself, by the signal's conventions (uvicorn re-raises SIGTERM
        # after its graceful shutdown; with embedded servers the CLI exits 128 + 15).
        status = await asyncio.to_thread(server.process.wait, 15)
        assert status in (-signal.SIGTERM, 128 + signal.SIGTERM)
        assert "Traceback" not in server.log_text(tail=0)
