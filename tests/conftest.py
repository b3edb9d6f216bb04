"""Test fixtures: real PostgreSQL and Redis, a real uvicorn server, clean data per test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devkit.serving import serving as devkit_serving
from tests import servers as test_servers
from tests.contract.recorder import ContractRecorder

_SERVERS: test_servers.RunServers | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Prepare servers before test modules import anything that reads DATABASE_URL."""
    global _SERVERS
    if hasattr(config, "workerinput"):  # pragma: no cover - no xdist here
        return
    _SERVERS = test_servers.start()
    from backend.push import development as push_dev

    os.environ.update(
        {
            "DATABASE_URL": _SERVERS.database_url,
            "REDIS_URL": _SERVERS.redis_url,
            "PICCOLO_CONF": "db.piccolo_conf",
            "ASTROCOFFEE_ENVIRONMENT": "test",
            "ASTROCOFFEE_REDIS_PREFIX": _SERVERS.redis_prefix,
            "ASTROCOFFEE_LOG_LEVEL": "WARNING",
            # Generous, so that tests making many logins are not throttled; the limits
            # themselves are tested on an app built with small ones (test_rate_limits.py).
            "ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE": "100000",
            "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "100000",
            # Tests run the periodic jobs themselves, at the moments they choose.
            "ASTROCOFFEE_MAINTENANCE_INTERVAL_S": "0",
            # Pages subscribe to Web Push with the key the fake push service checks.
            "ASTROCOFFEE_PUSH_VAPID_PRIVATE_KEY": push_dev.DEV_VAPID_PRIVATE_KEY,
            "ASTROCOFFEE_PUSH_VAPID_SUBJECT": push_dev.DEV_VAPID_SUBJECT,
        }
    )
    from db.migrate import apply_migrations

    asyncio.run(apply_migrations(_SERVERS.database_url))


def pytest_unconfigure(config: pytest.Config) -> None:
    global _SERVERS
    if _SERVERS is not None:
        test_servers.stop(_SERVERS)
        _SERVERS = None


@pytest.fixture(scope="session")
def servers() -> test_servers.RunServers:
    assert _SERVERS is not None
    return _SERVERS


@dataclass
class LiveServer:
    base_url: str
    ws_url: str
    app: Any
    sms: RecordingSmsSender


class RecordingSmsSender:
    """Stands in for the external SMS gateway: keeps the last code sent to each phone."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    async def send(self, *, phone: str, code: str) -> None:
        self.codes[phone] = code


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with a real uvicorn in the tests' event loop (``devkit.serving``); yield
    host:port.

    The loyalty app is served inside a ``ContractRecorder``: each of its answers is checked
    against its OpenAPI document, and ``follows_contract`` fails the test that broke it."""
    from backend.app import TITLE

    if getattr(getattr(app, "openapi_config", None), "title", None) == TITLE:
        app = ContractRecorder(app)
        _RECORDERS.append(app)
    async with devkit_serving(app) as address:
        yield address


_RECORDERS: list[ContractRecorder] = []


@pytest.fixture(autouse=True)
def follows_contract() -> Iterator[None]:
    """Fails a test during which the app answered something its document does not declare."""
    yield
    broken = [violation for recorder in _RECORDERS for violation in recorder.take()]
    assert not broken, "answers the OpenAPI document does not declare:\n" + "\n".join(broken)


@pytest.fixture(scope="session")
async def live_server() -> AsyncIterator[LiveServer]:
    """The app as configured for the tests, on a real server."""
    from backend.app import create_app
    from backend.stores.folding import FiguresLoop
    from realtime.publisher import EventPublisher

    sms = RecordingSmsSender()
    app = create_app(otp_sender=sms)
    async with serving(app) as address:
        # Store figures are folded from committed sales after commit, as the scheduler does
        # beside a deployment's servers (tests wait for them with factories.figures_folded).
        state = app.state
        folder = FiguresLoop(
            publisher=EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix),
            interval_s=0.02,
        )
        await folder.start()
        _FOLDERS.append(folder)
        try:
            yield LiveServer(f"http://{address}", f"ws://{address}", app, sms)
        finally:
            _FOLDERS.remove(folder)
            await folder.stop()


# Paused while the tables are emptied (a TRUNCATE and a pass would lock tables in turn).
_FOLDERS: list[Any] = []


@pytest.fixture
async def client(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10) as http:
        yield http


@pytest.fixture(autouse=True)
async def clean_data(
    servers: test_servers.RunServers, request: pytest.FixtureRequest
) -> AsyncIterator[None]:
    """Each test leaves a ledger that verifies, and the next starts with empty tables and
    no Redis keys of this run."""
    yield
    if request.node.get_closest_marker("corrupts_ledger") is None:
        from backend.loyalty.verify import find_mismatches

        assert await find_mismatches() == [], "the test left balances that disagree"
    import asyncpg
    import redis.asyncio as aioredis

    from backend.campaigns.catalogue import forget_local_copies
    from backend.loyalty.rules import forget_cached_rules
    from db.tables import ALL_TABLES

    forget_cached_rules()  # the tables below are emptied under it
    forget_local_copies()  # and under the campaign catalogues' one-second copies

    tables = ", ".join(table._meta.tablename for table in ALL_TABLES)
    for folder in _FOLDERS:
        await folder.stop()
    connection = await asyncpg.connect(servers.database_url)
    try:
        # A page a browser test left open may still be reading (its live chart, its stats)
        # while the TRUNCATE takes every table's lock in turn: PostgreSQL then breaks the
        # deadlock by failing one side, sometimes the TRUNCATE. Emptying again is safe.
        for attempt in range(5):
            try:
                await connection.execute(f"TRUNCATE {tables} CASCADE")
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == 4:
                    raise
    finally:
        await connection.close()
        for folder in _FOLDERS:
            await folder.start()
    redis = aioredis.Redis.from_url(servers.redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=servers.redis_prefix + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
async def till() -> Any:
    """A store with one POS terminal."""
    from tests.factories import open_till

    return await open_till()


@pytest.fixture
async def member(client: httpx.AsyncClient, live_server: LiveServer) -> Any:
    """A member who has logged in once (enrolled, 0 points)."""
    from tests.factories import log_in

    return await log_in(client, live_server.sms)


@pytest.fixture
def publisher(live_server: LiveServer) -> Any:
    """The app's event publisher, for calling the periodic jobs directly."""
    from realtime.publisher import EventPublisher

    state = live_server.app.state
    return EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)


@dataclass
class Shop:
    """The app wired to the two external systems, both played by real HTTP fakes."""

    client: httpx.AsyncClient
    app: Any
    sms: RecordingSmsSender
    provider: Any  # devkit.fakes.payment_provider.PaymentProvider
    accounting: Any  # devkit.fakes.accounting.AccountingSystem
    accounting_url: str
    provider_url: str


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    import msgspec

    from backend.app import create_app
    from backend.settings import load_settings
    from devkit.fakes.accounting import AccountingSystem
    from devkit.fakes.payment_provider import PaymentProvider

    provider = PaymentProvider()
    accounting = AccountingSystem()
    async with (
        serving(provider.app()) as provider_address,
        serving(accounting.app()) as accounting_address,
    ):
        settings = msgspec.structs.replace(
            load_settings(),
            payment_provider_url=f"http://{provider_address}",
            payment_provider_token=provider.token,
            payment_timeout_s=1.0,
            accounting_url=f"http://{accounting_address}",
            accounting_token=accounting.token,
            maintenance_interval_s=0,  # the tests run the poller themselves
        )
        sms = RecordingSmsSender()
        app = create_app(settings, otp_sender=sms)
        async with (
            serving(app) as address,
            httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
        ):
            provider.webhook_url = f"http://{address}/v1/webhooks/payments"
            try:
                yield Shop(
                    client=http,
                    app=app,
                    sms=sms,
                    provider=provider,
                    accounting=accounting,
                    accounting_url=f"http://{accounting_address}",
                    provider_url=f"http://{provider_address}",
                )
            finally:
                provider.hang = accounting.hang = False
