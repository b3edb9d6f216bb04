"""Run the real ``astrocoffee`` console script in a subprocess (``devkit.processes``), on the
test run's servers."""

from __future__ import annotations

import asyncio
import signal
import subprocess

from devkit.processes import SCRIPT, app_env, astrocoffee
from tests.servers import RunServers

__all__ = ["SCRIPT", "astrocoffee", "run_env", "terminated"]


def run_env(servers: RunServers, **extra: str) -> dict[str, str]:
    """The environment of an ``astrocoffee`` process on the run's servers (``extra``: more
    variables)."""
    defaults = {"ASTROCOFFEE_ENVIRONMENT": "test", "ASTROCOFFEE_REDIS_PREFIX": servers.redis_prefix}
    return app_env(servers.database_url, servers.redis_url, **(defaults | extra))


async def terminated(process: subprocess.Popen[str], *, wait_s: float = 15) -> tuple[int, str]:
    """Stop a process started with ``stderr=PIPE`` as a deployment does (SIGTERM, then a
    kill after ``wait_s``); its exit status and what it logged."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
    status = await asyncio.to_thread(process.wait, wait_s)
    assert process.stderr is not None
    log = process.stderr.read()
    process.stderr.close()
    return status, log
