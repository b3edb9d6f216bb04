"""The repository's nginx config, on Debian's nginx, in front of two real app processes.

Purchases and WebSocket pushes go through nginx; killing one app process keeps the service
answering. `make test` installs nginx (`make system-packages`); without it this test fails:
a missing tool is a provisioning bug, not a reason to skip.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import websockets

from devkit.ports import free_port
from tests.deploy.support import nginx_binary
from tests.e2e.conftest import Replica, login
from tests.factories import open_till, purchase_body
from tests.servers import ROOT

pytestmark = pytest.mark.e2e
CONFIG = ROOT / "deploy" / "nginx" / "astrocoffee.conf"


def render(addresses: list[str], port: int, prefix: Path) -> Path:
    """The repo's config with these replicas (host:port) and port, inside a minimal
    nginx.conf."""
    site = CONFIG.read_text()
    servers = "".join(f"    server {a} max_fails=1 fail_timeout=30s;\n" for a in addresses)
    site = re.sub(r"(    server app\d:8000[^\n]*\n)+", servers, site)
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    site = site.replace("/srv/astrocoffee/static/", f"{ROOT / 'backend' / 'web' / 'static'}/")
    (prefix / "site.conf").write_text(site)
    main = prefix / "nginx.conf"
    main.write_text(
        "user root;\nworker_processes 1;\npid nginx.pid;\nerror_log error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n  include /etc/nginx/mime.types;\n  access_log off;\n"
        f"  include {prefix / 'site.conf'};\n}}\n"
    )
    return main


@contextmanager
def running(binary: str, config: Path, probe_url: str) -> Iterator[None]:
    """nginx in the foreground with ``config`` (its prefix: the config's folder), once
    ``probe_url`` answers 200 (or 10 s have passed); stopped after."""
    process = subprocess.Popen(
        [binary, "-p", str(config.parent), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(probe_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def nginx(two_processes: list[Replica], tmp_path: Path) -> Iterator[str]:
    binary = nginx_binary()
    port = free_port()
    config = render([replica.address for replica in two_processes], port, tmp_path)
    checked = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    with running(binary, config, f"http://127.0.0.1:{port}/health/live"):
        yield f"127.0.0.1:{port}"


async def test_sales_and_pushes_go_through_nginx_and_survive_a_lost_replica(
    nginx: str, two_processes: list[Replica]
) -> None:
    till = await open_till()
    async with httpx.AsyncClient(base_url=f"http://{nginx}", timeout=15) as api:
        tokens = await login(api)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = (await api.get("/v1/me", headers=auth)).json()
        headers = (await api.get("/health/live")).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert (await api.get("/metrics")).status_code == 404  # not exposed at the edge
        served = await api.get("/static/index.html")  # from disk, by nginx itself
        assert served.status_code == 200
        assert served.content == (ROOT / "backend" / "web" / "static" / "index.html").read_bytes()
        assert "expires" in served.headers

        async def sale(key: str) -> httpx.Response:
            return await api.post(
                "/v1/purchases",
                json=purchase_body(me["card_number"]),
                headers={**till.headers, "Idempotency-Key": key},
            )

        # Several sockets, so that least_conn spreads them over both replicas.
        sockets = [
            await websockets.connect(f"ws://{nginx}/v1/ws?token={tokens['access_token']}")
            for _ in range(4)
        ]
        for ws in sockets:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
        assert (await sale("through-nginx-1")).status_code == 201
        for ws in sockets:
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
            assert frames[-1]["type"] == "balance.updated"
        for ws in sockets:
            await ws.close()

        two_processes[0].process.kill()  # one replica dies
        two_processes[0].process.wait()
        statuses = [(await sale(f"after-kill-{n}")).status_code for n in range(6)]
        assert statuses == [201] * 6
        async with websockets.connect(f"ws://{nginx}/v1/ws?token={tokens['access_token']}") as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["last_seq"] == 14
        assert (await api.get("/v1/me", headers=auth)).json()["balance"]["available"] == 7 * 17
