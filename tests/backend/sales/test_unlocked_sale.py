"""A plain sale reads its buyer without a lock and posts in one statement of its own, written
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
from tests.factories import LoggedInMember, Till, buy, grant, purchase_body

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


async def test_a_sale_overtaken_between_its_read_and_its_write_runs_again_locked(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def overtaken(sale: Sale, **options: Any) -> Any:
        # After the sale's read, before its write: 300 points granted (a change that commits
        # ledger entries and events of its own). Once: the sale's second try is not hindered.
        if options.get("buyer") is not None:
            monkeypatch.setattr(backend.till.purchases, "settle_sale", settle_sale)
            await grant(str(sale.member_id), 300)
        return await settle_sale(sale, **options)

    monkeypatch.setattr(backend.till.purchases, "settle_sale", overtaken)
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
