"""Who finds a member how: baristas by card (or the QR code at the till), never by phone;
managers and admins also by phone. A barista's phone look-up is refused and audited."""

from __future__ import annotations

import httpx
import pytest

from backend.errors import Forbidden
from backend.members.qr import QrTokens
from backend.members.service import LookUp, find_member
from tests.backend.audit.support import entries, only
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, assert_problem, hire, hired_caller


async def test_a_barista_finds_by_card_but_not_by_phone(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    barista = await hire(client, "barista", [till.store_id])
    by_card = await client.get(
        "/v1/admin/members", params={"card_number": member.card_number}, headers=barista.headers
    )
    assert by_card.status_code == 200, by_card.text
    assert by_card.json()["member_id"] == member.member_id

    by_phone = await client.get(
        "/v1/admin/members", params={"phone": member.phone}, headers=barista.headers
    )
    assert_problem(by_phone, 403, "forbidden")
    assert member.phone not in by_phone.text
    refused = await only("member.look_up_refused")
    assert str(refused["staff_id"]) == barista.staff_id
    assert refused["role"] == "barista"
    assert refused["target_id"] is None
    assert refused["after"] == {"by": "phone"}
    assert member.phone not in str(refused)  # the attempt is kept, not whom it sought
    assert [e["after"]["by"] for e in await entries("member.looked_up")] == ["card_number"]


async def test_a_barista_finds_by_the_members_qr_code_once(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    barista = await hire(client, "barista", [till.store_id])
    token = (await client.get("/v1/me/qr", headers=member.headers)).json()["qr_token"]
    found = await client.get(
        "/v1/admin/members", params={"qr_token": token}, headers=barista.headers
    )
    assert found.status_code == 200, found.text
    assert found.json()["member_id"] == member.member_id
    again = await client.get(
        "/v1/admin/members", params={"qr_token": token}, headers=barista.headers
    )
    assert_problem(again, 404, "member_not_found")  # a screenshot of the code finds nobody
    both = await client.get(
        "/v1/admin/members",
        params={"qr_token": token, "card_number": member.card_number},
        headers=barista.headers,
    )
    assert_problem(both, 400, "validation_failed")
    looked_up = await entries("member.looked_up")
    assert [e["after"] for e in looked_up] == [
        {"by": "qr_token", "found": True},
        {"by": "qr_token", "found": False},
    ]


async def test_managers_and_admins_find_by_phone(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    for role in ("manager", "admin"):
        staff = await hire(client, role, [till.store_id] if role == "manager" else None)
        found = await client.get(
            "/v1/admin/members", params={"phone": member.phone}, headers=staff.headers
        )
        assert found.status_code == 200, found.text
        assert found.json()["member_id"] == member.member_id
    assert await entries("member.look_up_refused") == []


async def test_the_setting_lets_baristas_find_by_phone(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till, member: LoggedInMember
) -> None:
    caller = await hired_caller(client, "barista", [till.store_id])
    qr_tokens = QrTokens(
        redis=live_server.app.state.redis, prefix=live_server.app.state.settings.redis_prefix
    )
    by_phone = LookUp(phone=member.phone)
    found = await find_member(
        caller=caller, by=by_phone, qr_tokens=qr_tokens, barista_phone_lookup=True
    )
    assert str(found.member_id) == member.member_id
    with pytest.raises(Forbidden):
        await find_member(caller=caller, by=by_phone, qr_tokens=qr_tokens)
    assert [e["after"] for e in await entries("member.look_up_refused")] == [{"by": "phone"}]
