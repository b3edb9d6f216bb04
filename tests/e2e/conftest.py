"""Real `astrocoffee serve` processes for the end-to-end tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import httpx
import pytest

from tests.cli import SCRIPT, run_env
from tests.conftest import free_port
from tests.factories import unique_phone
from tests.servers import ROOT, RunServers

DEV_CODE = "246810"


class Replica(NamedTuple):
    address: str  # host:port
    process: subprocess.Popen[str]


@contextmanager
def serve_processes(
    servers: RunServers, count: int, *args: str, **env: str
) -> Iterator[list[Replica]]:
    """``count`` serve processes on their own ports (extra CLI args and environment given),
    ready when this yields; terminated (SIGTERM) and waited for after."""
    environment = run_env(
        servers, ASTROCOFFEE_DEV_OTP_CODE=DEV_CODE, ASTROCOFFEE_LOG_LEVEL="WARNING", **env
    )
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port), *args],
            env=environment,
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
        yield [
            Replica(f"127.0.0.1:{port}", process)
            for port, process in zip(ports, processes, strict=True)
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # pragma: no cover - diagnostics only
                process.kill()
                process.wait()
            assert process.stderr is not None
            process.stderr.close()


@pytest.fixture
def two_processes(servers: RunServers) -> Iterator[list[Replica]]:
    """Two serve processes on their own ports, sharing PostgreSQL and Redis."""
    with serve_processes(servers, 2) as replicas:
        yield replicas


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


async def login(api: httpx.AsyncClient) -> dict[str, str]:
    """A new member's tokens, through the API with the development code."""
    phone = unique_phone()
    assert (await api.post("/v1/auth/otp", json={"phone": phone})).status_code == 202
    tokens = (await api.post("/v1/auth/token", json={"phone": phone, "code": DEV_CODE})).json()
    return dict(tokens)
