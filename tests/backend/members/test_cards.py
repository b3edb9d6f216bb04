"""A lost card is blocked and a new number issued on the same account: points, tier and
history follow; the old number identifies nobody and is never issued again."""

from __future__ import annotations

import uuid

import httpx
import pytest

from backend.audit.personal import seal
from backend.members import cards
from backend.members.cards import replace_card, unused_card_number
from db.tables import BlockedCard
from tests.backend.audit.support import entries, only
from tests.factories import LoggedInMember, assert_problem, buy, hire, open_till, purchase_body


async def test_a_member_replaces_their_lost_card(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    till = await open_till()
    bought = await buy(client, till, purchase_body(member.card_number, amount=50000))
    assert bought.status_code == 201, bought.text
    before = (await client.get("/v1/me", headers=member.headers)).json()
    history = (await client.get("/v1/me/transactions", headers=member.headers)).json()

    replaced = await client.post(
        "/v1/me/card/replace", headers=member.headers, json={"card_number": member.card_number}
    )
    assert replaced.status_code == 200, replaced.text
    new_number = replaced.json()["card_number"]
    assert replaced.json()["blocked_card_number"] == member.card_number
    assert new_number != member.card_number

    after = (await client.get("/v1/me", headers=member.headers)).json()
    assert after["card_number"] == new_number
    assert (after["balance"], after["tier"], after["progress"]) == (
        before["balance"],
        before["tier"],
        before["progress"],
    )
    assert (await client.get("/v1/me/transactions", headers=member.headers)).json() == history

    # At the till the old number is nobody's; the new one is the member's.
    old = await buy(client, till, purchase_body(member.card_number))
    assert_problem(old, 404, "card_blocked")  # blocked as lost, naming nobody
    new = await buy(client, till, purchase_body(new_number))
    assert new.status_code == 201, new.text
    assert new.json()["member_id"] == member.member_id

    # A retry of the same request does not block the new card too.
    again = await client.post(
        "/v1/me/card/replace", headers=member.headers, json={"card_number": member.card_number}
    )
    assert_problem(again, 409, "conflict")
    assert (await client.get("/v1/me", headers=member.headers)).json()["card_number"] == new_number
    # The member's own replacement is not a staff action.
    assert await entries("card.replaced") == []


async def test_staff_replace_a_card_and_the_old_number_finds_nobody(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    till = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    replaced = await client.post(
        f"/v1/admin/members/{member.member_id}/card/replace",
        headers=barista.headers,
        json={"card_number": member.card_number},
    )
    assert replaced.status_code == 200, replaced.text
    entry = await only("card.replaced")
    assert str(entry["staff_id"]) == barista.staff_id
    member_id = uuid.UUID(member.member_id)
    assert entry["before"] == {"card_number": await seal(member_id, member.card_number)}
    assert entry["after"] == {"card_number": await seal(member_id, replaced.json()["card_number"])}
    blocked = await BlockedCard.select().first()
    assert blocked is not None
    assert str(blocked["blocked_by"]) == barista.staff_id

    found = await client.get(
        "/v1/admin/members", params={"card_number": member.card_number}, headers=barista.headers
    )
    assert_problem(found, 404, "card_blocked")
    assert member.member_id not in found.text


async def test_a_blocked_number_is_never_issued_again(
    member: LoggedInMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    await replace_card(uuid.UUID(member.member_id), member.card_number)
    # The random draw is made to offer the blocked number first: it is passed over.
    offered = iter([member.card_number, "7700000000000009"])
    monkeypatch.setattr(cards, "new_card_number", lambda: next(offered))
    assert await unused_card_number() == "7700000000000009"
