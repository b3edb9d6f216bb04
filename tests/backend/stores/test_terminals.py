from __future__ import annotations

import os

import httpx
from redis.asyncio import Redis

from backend.auth.api_keys import hash_api_key
from tests.conftest import LiveServer
from tests.factories import Till, add_terminal, buy, hire, log_in, open_till, purchase_body


async def test_a_manager_opens_a_terminal_whose_key_is_shown_once_and_works(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    store = await open_till()
    manager = await hire(client, "manager", [store.store_id])
    created = await add_terminal(client, manager, store.store_id, "Till 2")
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    assert key.startswith("ack_")

    listed = (
        await client.get(f"/v1/admin/stores/{store.store_id}/terminals", headers=manager.headers)
    ).text
    assert key not in listed  # never shown again
    assert created.json()["terminal"]["key_prefix"] in listed

    member = await log_in(client, live_server.sms)
    sale = await buy(
        client, Till(store_id=store.store_id, key=key), purchase_body(member.card_number)
    )
    assert sale.status_code == 201


async def test_a_manager_cannot_touch_another_stores_terminals(client: httpx.AsyncClient) -> None:
    mine, theirs = await open_till(), await open_till()
    manager = await hire(client, "manager", [mine.store_id])
    response = await add_terminal(client, manager, theirs.store_id, "sneaky")
    assert response.status_code == 403


async def test_revocation_beats_the_cache(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    store = await open_till()
    admin = await hire(client, "admin")
    created = (await add_terminal(client, admin, store.store_id, "T")).json()
    till = Till(store_id=store.store_id, key=created["api_key"])
    member = await log_in(client, live_server.sms)
    # The first sale puts the key in the Redis cache.
    assert (await buy(client, till, purchase_body(member.card_number))).status_code == 201

    revoked = await client.post(
        f"/v1/admin/terminals/{created['terminal']['id']}/revoke", headers=admin.headers
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    refused = await buy(client, till, purchase_body(member.card_number))
    assert refused.status_code == 401
    # A process of the previous release, during a rolling deploy, reads the key's cache entry
    # under its name from before the hash tag: the tombstone is there too.
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        legacy = f"{os.environ['ASTROCOFFEE_REDIS_PREFIX']}terminal:{hash_api_key(till.key)}"
        assert await redis.get(legacy) == b"revoked"
    finally:
        await redis.aclose()


async def test_staff_list_only_their_stores(client: httpx.AsyncClient) -> None:
    store_1, store_2 = await open_till(), await open_till()
    barista = await hire(client, "barista", [store_1.store_id])
    admin = await hire(client, "admin")
    mine = (await client.get("/v1/admin/stores", headers=barista.headers)).json()["items"]
    everything = (await client.get("/v1/admin/stores", headers=admin.headers)).json()["items"]
    assert [s["id"] for s in mine] == [str(store_1.store_id)]
    assert {s["id"] for s in everything} == {str(store_1.store_id), str(store_2.store_id)}
    other = await client.get(f"/v1/admin/stores/{store_2.store_id}", headers=barista.headers)
    assert other.status_code == 403
