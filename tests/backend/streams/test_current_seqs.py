"""The newest seqs of many streams in one read per kind (what a process's sockets ask after a
Redis drop)."""

from __future__ import annotations

import uuid

import httpx

from backend.streams.replay import StoredEvents
from realtime.channels import BROADCAST, member_stream, store_stream
from tests.conftest import LiveServer
from tests.factories import figures_folded, log_in, open_till, sell


async def test_current_seqs_match_each_streams_own_read(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    buyers = [await log_in(client, live_server.sms) for _ in range(3)]
    for count, buyer in enumerate(buyers):
        for _ in range(count + 1):
            assert (await sell(client, till, buyer)).status_code == 201
    await figures_folded()  # the store's stream is appended after commit, by the fold
    stored = StoredEvents()
    names = [
        *(member_stream(b.member_id) for b in buyers),
        member_stream(str(uuid.uuid4())),  # nobody: 0
        store_stream(str(till.store_id)),
        store_stream(str(uuid.uuid4())),
        BROADCAST,
    ]
    together = await stored.current_seqs(names)
    one_by_one = {name: await stored.current_seq(name) for name in names}
    assert together == one_by_one
    seqs = [together[member_stream(b.member_id)] for b in buyers]
    assert seqs[0] > 0 and seqs[0] < seqs[1] < seqs[2]  # more sales, more events
    assert together[store_stream(str(till.store_id))] > 0
