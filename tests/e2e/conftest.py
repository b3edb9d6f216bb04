"""Real `astrocoffee serve` processes (``devkit.processes``) for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from devkit.processes import AppProcess
from tests.cli import run_env
from tests.factories import unique_phone
from tests.servers import RunServers

DEV_CODE = "246810"


# A serve process: its ``address`` (host:port), ``process`` (the Popen), ``log_text()``.
Replica = AppProcess


@contextmanager
def serve_processes(
    servers: RunServers, count: int, *args: str, **env: str
) -> Iterator[list[Replica]]:
    """``count`` serve processes on their own ports (extra CLI args and environment given),
    ready when this yields; terminated (SIGTERM) and waited for after."""
    environment = run_env(
        servers, ASTROCOFFEE_DEV_OTP_CODE=DEV_CODE, ASTROCOFFEE_LOG_LEVEL="WARNING", **env
    )
    replicas = [AppProcess.serve(environment, *args) for _ in range(count)]
    try:
        for replica in replicas:
            replica.wait_ready()
        yield replicas
    finally:
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            replica.stop(timeout_s=15)


@pytest.fixture
def two_processes(servers: RunServers) -> Iterator[list[Replica]]:
    """Two serve processes on their own ports, sharing PostgreSQL and Redis."""
    with serve_processes(servers, 2) as replicas:
        yield replicas


async def login(api: httpx.AsyncClient) -> dict[str, str]:
    """A new member's tokens, through the API with the development code."""
    phone = unique_phone()
    assert (await api.post("/v1/auth/otp", json={"phone": phone})).status_code == 202
    tokens = (await api.post("/v1/auth/token", json={"phone": phone, "code": DEV_CODE})).json()
    return dict(tokens)
