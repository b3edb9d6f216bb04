"""A sale that only earns (a plain one, or one whose campaigns write only its buyer's rows) reads its buyer without a lock and posts in one statement of its own, written
only if the account has not moved since; when another change to the member comes between,
nothing of the first try is written and the sale runs again under the lock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

import backend.till.purchases
from backend.ops.metrics import SALES_READ_AGAIN
from backend.sales.sale import Sale, settle_sale
from db import sql
from tests.backend.campaigns.helpers import launch, line
from tests.factories import LoggedInMember, SignedInStaff, Till, buy, grant, purchase_body

_WRITTEN = """
SELECT (SELECT count(*) FROM purchase WHERE member = {member_id}) AS purchases,
       (SELECT count(*) FROM ledger_entry e JOIN account a ON a.id = e.account
        WHERE a.member = {member_id} AND e.kind = 'earn') AS earn_entries,
       (SELECT count(*) FROM point_lot l JOIN account a ON a.id = l.account
        WHERE a.member = {member_id} AND l.source = 'earn') AS earn_lots,
       (SELECT array_agg(seq ORDER BY seq) FROM member_event WHERE member = {member_id}) AS seqs,
       (SELECT last_event_seq FROM account WHERE member = {member_id}) AS last_seq
"""


async def written(member_id: str) -> Mapping[str, Any]:
    return (await sql.fetch(_WRITTEN, member_id=uuid.UUID(member_id)))[0]


def read_again() -> float:
    return SALES_READ_AGAIN._value.get()


def overtake_the_next_sale(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the next sale's read, before its write: 300 points granted to its buyer (a
    change that commits ledger entries and events of its own). Once: the sale's second try
    is not hindered."""

    async def overtaken(sale: Sale, **options: Any) -> Any:
        if options.get("buyer") is not None:
            monkeypatch.setattr(backend.till.purchases, "settle_sale", settle_sale)
            await grant(str(sale.member_id), 300)
        return await settle_sale(sale, **options)

    monkeypatch.setattr(backend.till.purchases, "settle_sale", overtaken)


async def test_a_sale_overtaken_between_its_read_and_its_write_runs_again_locked(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    overtake_the_next_sale(monkeypatch)
    before = read_again()

    response = await buy(client, till, purchase_body(member.card_number, amount=20000))

    assert response.status_code == 201, response.text
    earned = response.json()["points_earned"]
    assert earned > 0
    assert response.json()["balance"]["available"] + response.json()["balance"]["pending"] == (
        300 + earned
    )
    assert read_again() == before + 1
    # The first try left nothing: one purchase, one earn entry and lot, gapless events.
    rows = await written(member.member_id)
    assert (rows["purchases"], rows["earn_entries"], rows["earn_lots"]) == (1, 1, 1)
    assert rows["seqs"] == list(range(1, rows["last_seq"] + 1))
    me = (await client.get("/v1/me", headers=member.headers)).json()
    assert me["balance"]["available"] + me["balance"]["pending"] == 300 + earned


async def test_an_unhindered_sale_is_not_read_again(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    before = read_again()
    response = await buy(client, till, purchase_body(member.card_number))
    assert response.status_code == 201, response.text
    assert read_again() == before


async def test_concurrent_sales_to_one_member_all_count_once(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    """Twenty sales to one member at once, some read again: every one earns once, and the
    balance is their sum (the ledger's verification after the test checks the rest)."""
    answers = await asyncio.gather(
        *(buy(client, till, purchase_body(member.card_number, amount=10000)) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    earned = sum(a.json()["points_earned"] for a in answers)
    rows = await written(member.member_id)
    assert (rows["purchases"], rows["earn_entries"], rows["earn_lots"]) == (20, 20, 20)
    assert rows["seqs"] == list(range(1, rows["last_seq"] + 1))
    me = (await client.get("/v1/me", headers=member.headers)).json()
    assert me["balance"]["available"] + me["balance"]["pending"] == earned


_CAMPAIGN_ROWS = """
SELECT (SELECT count(*) FROM member_offer WHERE member = {member_id}
        AND coupon_code IS NOT NULL) AS coupons,
       (SELECT sum(uses) FROM member_offer WHERE member = {member_id}
        AND coupon_code IS NULL) AS uses,
       (SELECT visits FROM member_stats WHERE member = {member_id}) AS visits,
       (SELECT count(*) FROM ledger_entry e JOIN account a ON a.id = e.account
        WHERE a.member = {member_id} AND e.kind = 'earn') AS earn_entries
"""


async def test_a_campaign_sale_overtaken_runs_again_and_counts_its_campaigns_once(
    client: httpx.AsyncClient,
    admin: SignedInStaff,
    till: Till,
    member: LoggedInMember,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sale whose campaigns write the member's own rows (a use counted against a limit
    per member, a stamp card completed into a coupon, the visit) reads without a lock too;
    overtaken, its first try leaves none of those rows."""
    await launch(
        client,
        admin,
        name="Once",
        rule={"type": "bonus", "points": 7, "min_amount": 100},
        per_member_limit=1,
    )
    card = {"type": "stamp_card", "category": "tea", "stamps_needed": 2, "reward_max_value": 500}
    await launch(client, admin, name="Tea card", rule=card)

    overtake_the_next_sale(monkeypatch)
    before = read_again()
    body = purchase_body(
        member.card_number, amount=14000, items=[line("tea", "tea", 7000, quantity=2)]
    )

    response = await buy(client, till, body)

    assert response.status_code == 201, response.text
    assert sorted(o["name"] for o in response.json()["offers_applied"]) == ["Once", "Tea card"]
    assert read_again() == before + 1
    rows = (await sql.fetch(_CAMPAIGN_ROWS, member_id=uuid.UUID(member.member_id)))[0]
    # One coupon, one use of the limited campaign, one visit; the base points and the
    # bonus on ledger entries of their own, once.
    assert (rows["coupons"], rows["uses"], rows["visits"]) == (1, 1, 1)
    assert rows["earn_entries"] == 2
