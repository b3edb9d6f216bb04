"""Liveness and readiness probes.

Ready means PostgreSQL answers: it is the truth, and with it a pod sells. Without Redis a pod
still sells (live pushes wait, rate limits open) and says so: 200 with status "degraded".
Answering 503 then would take every pod out of the Service at once for a Redis blip and stop
the sales that still work."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from redis.asyncio import Redis

from backend.auth.access import PUBLIC
from backend.ops.replica_lag import replica_check
from db.pool import engine
from realtime.hub import Hub
from realtime.redis_mode import redis_mode_of

_CHECK_TIMEOUT_S = 2.0


class Health(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, str]


async def _check(probe: Any) -> str:
    try:
        await asyncio.wait_for(probe, _CHECK_TIMEOUT_S)
    except Exception as exc:  # Any failure means "not ready"; the reason is reported.
        return f"failing: {type(exc).__name__}"
    return "ok"


async def check_dependencies(redis: Redis) -> dict[str, str]:
    """What readiness depends on: "ok" or why not, for PostgreSQL and Redis."""
    database, cache = await asyncio.gather(
        _check(engine().run_ddl("SELECT 1")), _check(redis_mode_of(redis).check())
    )
    return {"database": database, "redis": cache}


async def dependencies_ready(redis: Redis) -> bool:
    return (await check_dependencies(redis))["database"] == "ok"


class HealthController(Controller):
    path = "/health"
    tags = ["ops"]
    include_in_schema = True

    @get("/live", opt=PUBLIC, summary="The process is up")
    async def live(self) -> Health:
        return Health(status="ok", checks={})

    @get(
        "/ready",
        opt=PUBLIC,
        summary="PostgreSQL is reachable (Redis too, or degraded)",
        responses={503: ResponseSpec(data_container=Health, description="PostgreSQL is not")},
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[Health]:
        redis: Redis = request.app.state.redis
        hub: Hub = request.app.state.hub
        checks = await check_dependencies(redis)
        checks["realtime"] = "ok" if hub.healthy else "reconnecting"
        replica = replica_check()
        if replica is not None:  # reported, never a reason for 503
            checks["replica"] = replica
        if checks["database"] != "ok":
            return Response(Health(status="unavailable", checks=checks), status_code=503)
        whole = all(state == "ok" for state in checks.values())
        return Response(Health(status="ok" if whole else "degraded", checks=checks))
