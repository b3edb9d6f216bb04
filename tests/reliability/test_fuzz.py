"""The HTTP API fuzzed from its own OpenAPI document with schemathesis, as each kind of
caller: no request may get a 5xx, and every response must have a documented status, media
type and schema.

Bounded here (``FUZZ_EXAMPLES``, default 10 per operation); ``make fuzz`` runs more. Each
run also leaves the ledger to the usual end-of-test ``ledger verify``: whatever the fuzzer
managed to sell, refund or adjust must still add up.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import login, serve_processes
from tests.factories import hire, open_till
from tests.servers import ROOT, RunServers

pytestmark = pytest.mark.e2e

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "10")
SEED = os.environ.get("FUZZ_SEED", "20261126")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def fuzz(base: str, headers: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [
        SCHEMATHESIS,
        "run",
        f"{base}/schema/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,missing_required_header",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--no-color",
    ]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False)


async def test_no_caller_can_make_the_api_fail_or_break_its_schema(servers: RunServers) -> None:
    with serve_processes(
        servers,
        1,
        ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE="1000000",
        ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE="1000000",
    ) as (server,):
        base = f"http://{server.address}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as api:
            member = await login(api)
            admin = await hire(api, "admin")
        till = await open_till()
        callers = {
            "anonymous": {},
            "member": {"Authorization": f"Bearer {member['access_token']}"},
            "admin": admin.headers,
            "terminal": till.headers,
        }
        failures = []
        for caller, headers in callers.items():
            done = await asyncio.to_thread(fuzz, base, headers)
            if done.returncode != 0:
                failures.append(
                    f"--- as {caller} ---\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
                )
        assert not failures, "\n".join(failures)
