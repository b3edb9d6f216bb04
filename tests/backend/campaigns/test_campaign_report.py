"""A campaign's report: per day of its zone, the sales it paid and the points it awarded
(its ledger entries), and the sales of the items it promotes (the purchases' stored lines),
each checked against a recount from the rows; as CSV too; managers and admins read it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

from db import sql
from db.tables import LedgerEntry
from tests.backend.campaigns.helpers import CROISSANT, DOUBLE_BAKERY, LATTE, launch, line
from tests.clock import at
from tests.factories import LoggedInMember, SignedInStaff, Till, buy, hire, open_till, purchase_body

ECLAIR = line("eclair", "bakery", 12000, quantity=2)


async def _sale(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, items: list[dict[str, Any]]
) -> None:
    amount = sum(i["unit_price"] * i["quantity"] for i in items)
    body = purchase_body(member.card_number, amount=amount, items=items)
    response = await buy(client, till, body)
    assert response.status_code == 201, response.text


async def test_a_campaigns_uses_points_and_promoted_items_per_day(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    elsewhere = await open_till()
    with at(datetime(2030, 5, 6, 8, tzinfo=UTC)):  # Monday 11:00 in Moscow
        admin = await hire(client, "admin")
        campaign = await launch(
            client,
            admin,
            name="Double pastry",
            rule=DOUBLE_BAKERY,
            targeting={"store_ids": [str(till.store_id)]},
        )
        await _sale(client, till, member, [LATTE, CROISSANT])
        await _sale(client, till, member, [LATTE])  # nothing promoted: no use
    with at(datetime(2030, 5, 8, 9, tzinfo=UTC)):
        await _sale(client, till, member, [CROISSANT, ECLAIR])
        await _sale(client, elsewhere, member, [CROISSANT])  # a store it does not target
    with at(datetime(2030, 5, 9, 12, tzinfo=UTC)):
        path = f"/v1/admin/campaigns/{campaign['id']}/report"
        admin = await hire(client, "admin")
        manager = await hire(client, "manager", [till.store_id])
        answer = await client.get(path, headers=manager.headers)
        sheet = await client.get(f"{path}.csv", headers=admin.headers)
        ranged = await client.get(
            path, params={"from": "2030-05-08", "to": "2030-05-08"}, headers=admin.headers
        )
        barista = await hire(client, "barista", [till.store_id])
        refused = await client.get(path, headers=barista.headers)
    assert refused.status_code == 403
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["name"], report["skus"], report["categories"]) == (
        "Double pastry",
        [],
        ["bakery"],
    )
    assert [d["day"] for d in report["days"]] == [
        "2030-05-06",
        "2030-05-07",
        "2030-05-08",
        "2030-05-09",
    ]

    awards = await LedgerEntry.select(
        LedgerEntry.created_at, LedgerEntry.available_delta, LedgerEntry.pending_delta
    ).where((LedgerEntry.cause_type == "campaign") & (LedgerEntry.cause_id == campaign["id"]))
    uses: dict[str, list[int]] = {}
    for entry in awards:
        day = entry["created_at"].astimezone(UTC).date().isoformat()
        counted = uses.setdefault(day, [0, 0])
        counted[0] += 1
        counted[1] += entry["available_delta"] + entry["pending_delta"]
    assert {d["day"]: [d["uses"], d["points"]] for d in report["days"] if d["uses"]} == uses
    assert sorted(uses) == ["2030-05-06", "2030-05-08"]
    assert (report["uses"], report["points"]) == (2, sum(p for _, p in uses.values()))

    sold: dict[str, list[int]] = {}
    for row in await sql.fetch(
        "SELECT created_at, lines FROM purchase WHERE store = {store}", store=till.store_id
    ):
        bakery = [i for i in sql.loaded_json(row["lines"]) if i["category"] == "bakery"]
        if bakery:
            figures = sold.setdefault(
                row["created_at"].astimezone(UTC).date().isoformat(), [0, 0, 0]
            )
            figures[0] += 1
            figures[1] += sum(i["quantity"] for i in bakery)
            figures[2] += sum(i["quantity"] * i["unit_price"] for i in bakery)
    shown = {
        d["day"]: [d["item_sales"], d["item_quantity"], d["item_amount"]]
        for d in report["days"]
        if d["item_sales"]
    }
    assert shown == sold == {"2030-05-06": [1, 1, 15000], "2030-05-08": [1, 3, 39000]}

    assert [d["day"] for d in ranged.json()["days"]] == ["2030-05-08"]
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert rows[2] == {
        "day": "2030-05-08",
        "uses": "1",
        "points": str(uses["2030-05-08"][1]),
        "item_sales": "1",
        "item_quantity": "3",
        "item_amount_minor": "39000",
    }


async def test_an_unknown_campaign_is_not_found(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    answer = await client.get(
        "/v1/admin/campaigns/00000000-0000-0000-0000-000000000001/report",
        headers=admin.headers,
    )
    assert answer.status_code == 404
