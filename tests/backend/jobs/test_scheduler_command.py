"""``astrocoffee scheduler`` as a deployment runs it: a process of its own that serves its
metrics, runs the jobs under the lease, and exits 0 on SIGTERM after the run in hand.

The tests are async and wait for the processes in threads: the tests' event loop keeps
running meanwhile, so a transaction of the tests' own server (its store-figures fold) is never
left holding a lock the process under test waits for."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import urllib.request

import asyncpg

from devkit.ports import free_port, wait_for_port
from tests.cli import SCRIPT, astrocoffee, run_env
from tests.servers import RunServers


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        text: str = page.read().decode()
    return text


async def test_the_scheduler_runs_until_sigterm_and_shows_its_runs(servers: RunServers) -> None:
    port = free_port()
    env = run_env(
        servers,
        ASTROCOFFEE_MAINTENANCE_INTERVAL_S="1",
        ASTROCOFFEE_SCHEDULER_METRICS_PORT=str(port),
    )
    process = subprocess.Popen(
        [str(SCRIPT), "scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await asyncio.to_thread(wait_for_port, port, timeout_s=30)
        done = 0.0
        for _ in range(60):  # a run each second; the first within about one
            text = await asyncio.to_thread(_metrics, port)
            done = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith('astrocoffee_maintenance_runs_total{outcome="done"}')
            )
            if done >= 2 or process.poll() is not None:
                break
            await asyncio.sleep(0.5)
        assert done >= 2, text
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, output
    assert "scheduler stopped" in output


def test_the_scheduler_refuses_to_start_without_an_interval(servers: RunServers) -> None:
    result = astrocoffee("scheduler", env=run_env(servers, ASTROCOFFEE_MAINTENANCE_INTERVAL_S="0"))
    assert result.returncode == 2, result.stderr
    assert "ASTROCOFFEE_MAINTENANCE_INTERVAL_S" in result.stderr


async def test_maintenance_runs_the_jobs_the_scheduler_runs(servers: RunServers) -> None:
    """``astrocoffee maintenance`` is the scheduler's round, once: a delivered outbox message
    past the retention is purged (a job its hand-made copy of the wiring used to leave out)."""

    async def sql(query: str) -> object:
        connection = await asyncpg.connect(servers.database_url)
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()

    await sql(
        "INSERT INTO outbox_message (id, destination, kind, reference, business_date,"
        " payload, status, attempts, next_attempt_at, created_at, delivered_at)"
        " VALUES (gen_random_uuid(), 'accounting', 'sale', 'old', DATE '2020-01-02',"
        " '{}'::jsonb, 'delivered', 1, now(), now(), now())"
    )
    result = await asyncio.to_thread(astrocoffee, "maintenance", env=run_env(servers))
    assert result.returncode == 0, result.stderr
    assert "outbox_messages_purged=1" in result.stdout, result.stdout
    assert await sql("SELECT count(*) FROM outbox_message") == 0
