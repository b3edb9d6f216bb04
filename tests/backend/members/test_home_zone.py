"""A member's home zone (the program's until their first sale's store gives its own, or they
choose one) and their birth date, which they give once and staff correct."""

from __future__ import annotations

import httpx

from db.tables import Member
from tests.conftest import LiveServer
from tests.factories import assert_problem, hire, log_in, open_till, sell


async def test_the_first_sales_store_gives_the_member_its_zone(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["time_zone"] == "Europe/Moscow"  # the program's, until a first sale

    far_east = await open_till(time_zone="Asia/Vladivostok")
    far_west = await open_till(time_zone="Europe/Kaliningrad")
    assert (await sell(client, far_east, member)).status_code == 201
    assert (await sell(client, far_west, member)).status_code == 201  # a trip: home stays

    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["time_zone"] == "Asia/Vladivostok"


async def test_a_member_chooses_their_zone_and_a_first_sale_then_keeps_it(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    chosen = await client.patch(
        "/v1/me", headers=member.headers, json={"time_zone": "Europe/Kaliningrad"}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["time_zone"] == "Europe/Kaliningrad"
    assert (await sell(client, await open_till(time_zone="Asia/Vladivostok"), member)).is_success
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["time_zone"] == "Europe/Kaliningrad"

    unknown = await client.patch("/v1/me", headers=member.headers, json={"time_zone": "Mars/Base"})
    assert_problem(unknown, 400, "validation_failed")
    assert unknown.json()["extra"]["field"] == "time_zone"
    row = await Member.select(Member.time_zone).where(Member.id == member.member_id).first()
    assert row == {"time_zone": "Europe/Kaliningrad"}


async def test_a_birth_date_is_given_once_and_corrected_only_by_staff(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    given = await client.patch("/v1/me", headers=member.headers, json={"birth_date": "1990-05-17"})
    assert given.status_code == 200, given.text
    assert given.json()["birth_date"] == "1990-05-17"
    # The same date again is no change; another date (or none) would be a new birthday.
    same = await client.patch("/v1/me", headers=member.headers, json={"birth_date": "1990-05-17"})
    assert same.status_code == 200
    for other in ("1990-12-31", None):
        again = await client.patch("/v1/me", headers=member.headers, json={"birth_date": other})
        assert_problem(again, 409, "conflict")
        assert again.json()["extra"]["field"] == "birth_date"
    row = await Member.select(Member.birth_date).where(Member.id == member.member_id).first()
    assert row is not None and str(row["birth_date"]) == "1990-05-17"

    barista = await hire(client, "barista", [till.store_id])
    manager = await hire(client, "manager", [till.store_id])
    path = f"/v1/admin/members/{member.member_id}/birth-date"
    refused = await client.patch(path, headers=barista.headers, json={"birth_date": "1990-05-07"})
    assert refused.status_code == 403
    corrected = await client.patch(path, headers=manager.headers, json={"birth_date": "1990-05-07"})
    assert corrected.status_code == 200, corrected.text
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["birth_date"] == "1990-05-07"
