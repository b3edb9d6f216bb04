"""PgBouncer as deployed: the image's start.sh run with Debian's pgbouncer, and its place in
compose and the Kubernetes overlays (in front of the primary, the migrations past it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devkit.pgbouncer import binary
from devkit.ports import free_port, wait_for_port
from devkit.processes import stop
from tests.deploy.support import containers, find, matches, pod_labels, pod_spec

Rendered = dict[str, list[dict[str, Any]]]
PASSWORD = 'with "quotes" and spaces'


@pytest.fixture(scope="module")
def started(root: Path) -> Iterator[tuple[int, Path]]:
    """deploy/pgbouncer/start.sh with Debian's pgbouncer, its server nowhere (no database
    here): (its port, its generated files' folder)."""
    binary()  # fails, with what to install, when pgbouncer is missing
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pgbouncer-image-") as name:
        os.chmod(name, 0o777)
        run = Path(name) / "run"
        env = {
            "PATH": os.environ["PATH"],
            "PGBOUNCER_SERVER_HOST": "127.0.0.1",
            "PGBOUNCER_SERVER_PORT": str(free_port()),
            "PGBOUNCER_USER": "astrocoffee",
            "PGBOUNCER_PASSWORD": PASSWORD,
            "PGBOUNCER_PORT": str(port),
            "PGBOUNCER_RUN_DIR": str(run),
        }
        argv = ["sh", str(root / "deploy" / "pgbouncer" / "start.sh")]
        if os.geteuid() == 0:  # PgBouncer refuses root; the image runs it as uid 10001
            argv = ["runuser", "-u", "nobody", "--", *argv]
        with open(Path(name) / "log", "wb") as log:
            process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for_port(port)
                yield port, run
            finally:
                stop(process)


def test_start_sh_runs_debians_pgbouncer_in_transaction_mode(started: tuple[int, Path]) -> None:
    _, run = started
    ini = (run / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in ini
    assert "auth_type = scram-sha-256" in ini
    assert "\nignore_startup_parameters =\n" in ini  # nothing of the app's is dropped
    assert (run / "userlist.txt").stat().st_mode & 0o077 == 0  # the password is private


def test_start_sh_checks_the_password_it_was_given(started: tuple[int, Path]) -> None:
    port, _ = started

    async def log_in(password: str) -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user="astrocoffee",
            password=password,
            database="astrocoffee",
            timeout=5,
        )
        await connection.close()

    with pytest.raises(asyncpg.ProtocolViolationError, match="SASL authentication failed"):
        asyncio.run(log_in("wrong"))
    # The right one passes PgBouncer, which then finds no server where it was told to look.
    with pytest.raises((asyncpg.PostgresError, OSError)) as failed:
        asyncio.run(log_in(PASSWORD))
    assert "SASL authentication failed" not in str(failed.value)


def test_compose_runs_pgbouncer_in_front_of_the_primary(services: dict[str, Any]) -> None:
    pgbouncer = services["pgbouncer"]
    assert pgbouncer["build"]["context"] == "pgbouncer"
    assert pgbouncer["environment"]["PGBOUNCER_SERVER_HOST"] == "postgres"
    for name in ("app1", "app2", "worker", "scheduler"):
        assert "pgbouncer" in services[name]["depends_on"], f"{name} must wait for pgbouncer"
    assert "pgbouncer" not in services["migrate"]["depends_on"]  # migrations go past it


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_kubernetes_runs_pgbouncer_and_migrates_past_it(rendered: Rendered, overlay: str) -> None:
    objects = rendered[overlay]
    pgbouncer = find(objects, "Deployment", "astrocoffee-pgbouncer")
    ((_, container),) = containers(pgbouncer)
    assert container["image"].startswith("registry.example.com/astrocoffee-pgbouncer:")
    assert pod_spec(pgbouncer)["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = find(objects, "Service", "astrocoffee-pgbouncer")
    assert [p["port"] for p in service["spec"]["ports"]] == [6432]
    budget = find(objects, "PodDisruptionBudget", "astrocoffee-pgbouncer")
    assert matches(budget["spec"]["selector"], pod_labels(pgbouncer))

    config = next(o for o in objects if o["metadata"]["name"].startswith("astrocoffee-config-"))
    assert config["data"]["DATABASE_PGBOUNCER"] == "true"
    ((_, migrate),) = containers(find(objects, "Job", "astrocoffee-migrate"))
    env = {e["name"]: e for e in migrate["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_MIGRATION_URL"
    assert env["DATABASE_PGBOUNCER"]["value"] == "false"
