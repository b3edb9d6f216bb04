"""GET /v1/admin/audit: admins filter the whole trail by staff, target, action and time and
page with a cursor; a manager reads only the entries about their stores."""

from __future__ import annotations

import httpx

from tests.backend.audit.support import entries
from tests.factories import LoggedInMember, SignedInStaff, assert_problem, hire, open_till


async def look_up(client: httpx.AsyncClient, staff: SignedInStaff, member: LoggedInMember):
    response = await client.get(
        "/v1/admin/members", params={"card_number": member.card_number}, headers=staff.headers
    )
    assert response.status_code == 200, response.text


async def test_admins_filter_and_page(
    client: httpx.AsyncClient, member: LoggedInMember, admin: SignedInStaff
) -> None:
    store_1, store_2 = await open_till(), await open_till()
    barista_1 = await hire(client, "barista", [store_1.store_id])
    barista_2 = await hire(client, "barista", [store_2.store_id])
    for barista in (barista_1, barista_2, barista_1):
        await look_up(client, barista, member)

    def read(**params: object) -> object:
        return client.get("/v1/admin/audit", params=params, headers=admin.headers)

    looked_up = (await read(action="member.looked_up")).json()  # newest first
    assert [item["staff_id"] for item in looked_up["items"]] == [
        barista_1.staff_id,
        barista_2.staff_id,
        barista_1.staff_id,
    ]
    assert looked_up["items"][0]["at"].endswith("Z") or "+" in looked_up["items"][0]["at"]

    by_barista_1 = (await read(staff_id=barista_1.staff_id, action="member.looked_up")).json()
    assert len(by_barista_1["items"]) == 2
    about_member = (await read(target_type="member", target_id=member.member_id)).json()
    assert len(about_member["items"]) == 3
    newest_first = [item["at"] for item in looked_up["items"]]
    between = (
        await read(action="member.looked_up", since=newest_first[1], until=newest_first[0])
    ).json()
    assert [item["staff_id"] for item in between["items"]] == [barista_2.staff_id]

    first = (await read(action="member.looked_up", limit=2)).json()
    rest = (await read(action="member.looked_up", limit=2, cursor=first["next_cursor"])).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == [
        i["id"] for i in looked_up["items"]
    ]
    assert rest["next_cursor"] is None

    # Each read is itself recorded, with what was asked.
    reads = await entries("audit.read")
    assert len(reads) == 6
    assert all(str(entry["staff_id"]) == admin.staff_id for entry in reads)
    assert reads[1]["after"]["staff_id"] == barista_1.staff_id
    assert reads[-1]["after"]["cursor"] == first["next_cursor"]


async def test_a_manager_reads_only_their_stores(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    store_1, store_2 = await open_till(), await open_till()
    manager_1 = await hire(client, "manager", [store_1.store_id])
    barista_1 = await hire(client, "barista", [store_1.store_id])
    barista_2 = await hire(client, "barista", [store_2.store_id])
    await look_up(client, barista_1, member)
    await look_up(client, barista_2, member)

    seen = await client.get(
        "/v1/admin/audit", params={"action": "member.looked_up"}, headers=manager_1.headers
    )
    assert seen.status_code == 200, seen.text
    assert [item["staff_id"] for item in seen.json()["items"]] == [barista_1.staff_id]
    refused = await client.get("/v1/admin/audit", headers=barista_1.headers)
    assert_problem(refused, 403, "forbidden")


async def test_bad_filters_are_refused(client: httpx.AsyncClient, admin: SignedInStaff) -> None:
    naive = await client.get(
        "/v1/admin/audit", params={"since": "2025-03-03T08:00:00"}, headers=admin.headers
    )
    assert_problem(naive, 400, "validation_failed")
    assert naive.json()["extra"]["field"] == "since"
    backwards = await client.get(
        "/v1/admin/audit",
        params={"since": "2025-03-03T08:00:00Z", "until": "2025-03-03T07:00:00Z"},
        headers=admin.headers,
    )
    assert_problem(backwards, 400, "validation_failed")
    assert backwards.json()["extra"]["field"] == "until"
    cursor = await client.get("/v1/admin/audit", params={"cursor": "x"}, headers=admin.headers)
    assert_problem(cursor, 400, "validation_failed")
    assert cursor.json()["extra"]["field"] == "cursor"
