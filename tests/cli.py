"""Run the real ``astrocoffee`` console script in a subprocess (``devkit.processes``), on the
test run's servers."""

from __future__ import annotations

from devkit.processes import SCRIPT, app_env, astrocoffee
from tests.servers import RunServers

__all__ = ["SCRIPT", "astrocoffee", "run_env"]


def run_env(servers: RunServers, **extra: str) -> dict[str, str]:
    """The environment of an ``astrocoffee`` process on the run's servers (``extra``: more
    variables)."""
    defaults = {"ASTROCOFFEE_ENVIRONMENT": "test", "ASTROCOFFEE_REDIS_PREFIX": servers.redis_prefix}
    return app_env(servers.database_url, servers.redis_url, **(defaults | extra))
