"""A store's clock: its IANA zone is required when it opens, checked against the zone
database, and an admin may move it (or the hour its business day starts)."""

from __future__ import annotations

import uuid

import httpx

from db.tables import Store
from tests.factories import assert_problem, hire, open_store, open_till


async def test_a_store_opens_with_its_zone_and_shows_it(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    code = f"VVO-{uuid.uuid4().hex[:4].upper()}"
    opened = await open_store(
        client, admin, code=code, name="Svetlanskaya 1", time_zone="Asia/Vladivostok"
    )
    assert opened.status_code == 201, opened.text
    store = opened.json()
    assert (store["time_zone"], store["day_starts_at"]) == ("Asia/Vladivostok", 0)
    again = await client.get(f"/v1/admin/stores/{store['id']}", headers=admin.headers)
    assert again.json()["time_zone"] == "Asia/Vladivostok"


async def test_a_store_without_a_zone_or_with_an_unknown_one_is_not_opened(
    client: httpx.AsyncClient,
) -> None:
    admin = await hire(client, "admin")
    before = await Store.count()
    for body, field in (
        ({"code": "NOZONE-1", "name": "Nowhere"}, "time_zone"),
        ({"code": "NOZONE-2", "name": "Nowhere", "time_zone": "Europe/Atlantis"}, "time_zone"),
        ({"code": "NOZONE-3", "name": "Nowhere", "time_zone": "UTC", "day_starts_at": 9}, None),
    ):
        refused = await open_store(client, admin, **body)
        assert_problem(refused, 400, "validation_failed")
        if field is not None:
            assert field in refused.text
    assert await Store.count() == before


async def test_an_admin_moves_a_stores_clock_and_nobody_else_may(
    client: httpx.AsyncClient,
) -> None:
    till = await open_till(time_zone="Europe/Moscow")
    admin = await hire(client, "admin")
    manager = await hire(client, "manager", [till.store_id])
    path = f"/v1/admin/stores/{till.store_id}"

    moved = await client.patch(
        path, headers=admin.headers, json={"time_zone": "Europe/Kaliningrad", "day_starts_at": 3}
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["time_zone"], moved.json()["day_starts_at"]) == ("Europe/Kaliningrad", 3)
    assert moved.json()["name"] == "Test store"  # absent fields stay as they were

    assert (
        await client.patch(path, headers=manager.headers, json={"name": "x"})
    ).status_code == 403
    unknown = await client.patch(path, headers=admin.headers, json={"time_zone": "Mars/Base"})
    assert_problem(unknown, 400, "validation_failed")
    assert unknown.json()["extra"]["field"] == "time_zone"
    row = await Store.select(Store.time_zone, Store.name).where(Store.id == till.store_id).first()
    assert row == {"time_zone": "Europe/Kaliningrad", "name": "Test store"}
