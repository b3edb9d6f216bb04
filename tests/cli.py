"""Run the real ``astrocoffee`` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT, RunServers

SCRIPT = Path(sys.executable).with_name("astrocoffee")


def run_env(servers: RunServers, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ASTROCOFFEE_") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "DATABASE_URL": servers.database_url,
            "REDIS_URL": servers.redis_url,
            "ASTROCOFFEE_ENVIRONMENT": "test",
            "ASTROCOFFEE_REDIS_PREFIX": servers.redis_prefix,
        }
    )
    env.update(extra)
    return env


def astrocoffee(
    *args: str, env: dict[str, str], timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )
