"""Marketing consent per channel: given and withdrawn with time and source, kept as
history that cannot be rewritten; nothing marketing may go without it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import time_machine

from backend.members.consents import change_consents, may_send_marketing
from backend.members.schemas import ConsentUpdate
from db import sql
from tests.factories import LoggedInMember, assert_problem, hire, open_till

MONDAY = datetime(2025, 9, 1, 10, tzinfo=UTC)


async def put(client: httpx.AsyncClient, member: LoggedInMember, **channels: bool):
    response = await client.put("/v1/me/consents", headers=member.headers, json=channels)
    assert response.status_code == 200, response.text
    return response.json()


async def test_consent_is_given_and_withdrawn_with_history(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    member_id = uuid.UUID(member.member_id)
    start = (await client.get("/v1/me/consents", headers=member.headers)).json()
    assert [(c["channel"], c["given"], c["at"]) for c in start["channels"]] == [
        ("push", False, None),
        ("sms", False, None),
        ("email", False, None),
    ]
    assert not await may_send_marketing(member_id, "push")

    # The clock is set for the service (a token would not survive the journey).
    with time_machine.travel(MONDAY, tick=False):
        given = await change_consents(member_id, ConsentUpdate(push=True, email=True), source="app")
    assert [c.given for c in given.channels] == [True, False, True]
    assert [c.source for c in given.channels] == ["app", None, "app"]
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        await change_consents(member_id, ConsentUpdate(push=True), source="app")  # no change
        await change_consents(member_id, ConsentUpdate(push=False, sms=False), source="app")
    withdrawn = (await client.get("/v1/me/consents", headers=member.headers)).json()

    channels = {c["channel"]: c for c in withdrawn["channels"]}
    assert channels["push"]["given"] is False
    assert channels["push"]["source"] == "app"
    assert datetime.fromisoformat(channels["push"]["at"]) == MONDAY + timedelta(days=3)
    assert channels["email"]["given"] is True
    # Newest first; sms was never given, so withdrawing it changed nothing.
    assert [(h["channel"], h["given"]) for h in withdrawn["history"]] == [
        ("push", False),
        ("email", True),
        ("push", True),
    ]
    assert not await may_send_marketing(member_id, "push")
    assert not await may_send_marketing(member_id, "sms")
    assert await may_send_marketing(member_id, "email")


async def test_staff_see_the_consents_on_the_member_page(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    await put(client, member, sms=True)
    till = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    page = (
        await client.get(f"/v1/admin/members/{member.member_id}", headers=barista.headers)
    ).json()
    assert {c["channel"]: c["given"] for c in page["consents"]} == {
        "push": False,
        "sms": True,
        "email": False,
    }


async def test_history_cannot_be_rewritten_and_bad_input_is_refused(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    await put(client, member, email=True)
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await sql.fetch("UPDATE marketing_consent SET given = false")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await sql.fetch("DELETE FROM marketing_consent")

    nothing = await client.put("/v1/me/consents", headers=member.headers, json={})
    assert_problem(nothing, 400, "validation_failed")
    unknown = await client.put("/v1/me/consents", headers=member.headers, json={"fax": True})
    assert unknown.status_code == 400
    assert await may_send_marketing(uuid.UUID(member.member_id), "email")
