"""docs/campaigns.md's examples, sent to the app, so that the page stays true: each request
body is accepted as written, and each worked example's table of sales (instant, store's zone,
applies or not) is what sales at those instants in stores of those zones get."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

from tests.backend.campaigns.helpers import create, launch, line
from tests.conftest import LiveServer
from tests.factories import Till, buy, hire, log_in, open_till, purchase_body

PAGE = Path(__file__).parents[3] / "docs" / "campaigns.md"
BLOCK = re.compile(r"```json\n(.*?)\n```(?:\n\n((?:\|[^\n]*\|\n?)+))?", re.DOTALL)
# Every instant of the examples is after this one (their schedules are in the future).
BEFORE_THE_EXAMPLES = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)


def examples() -> list[tuple[dict[str, Any], list[dict[str, str]]]]:
    """Each JSON block of the page with the rows of the table right after it (if any)."""
    found = []
    for match in BLOCK.finditer(PAGE.read_text()):
        body = json.loads(match.group(1))
        rows: list[dict[str, str]] = []
        if match.group(2):
            lines = [
                [cell.strip() for cell in row.strip().strip("|").split("|")]
                for row in match.group(2).strip().splitlines()
            ]
            header, rows_ = lines[0], lines[2:]
            rows = [dict(zip(header, cells, strict=True)) for cells in rows_]
        found.append((body, rows))
    return found


EXAMPLES = examples()
WORKED = [(body, rows) for body, rows in EXAMPLES if rows]


def test_the_page_has_request_bodies_and_worked_examples() -> None:
    assert len(EXAMPLES) >= 2
    assert len(WORKED) >= 2
    for _, rows in WORKED:
        assert {"sale at (UTC)", "store's zone", "applies"} <= rows[0].keys()


async def test_every_request_body_is_accepted_as_written(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with time_machine.travel(BEFORE_THE_EXAMPLES, tick=True):
        admin = await hire(client, "admin")
        till = await open_till()
        for body, _ in EXAMPLES:
            text = json.dumps(body).replace('"\\u2026"', json.dumps(str(till.store_id)))
            created = await create(client, admin, **json.loads(text))
            for name in ("starts_at_local", "ends_at_local", "time_zone"):
                assert created[name] == body.get(name), name
            if "starts_at_local" in body:
                # The instant the wall clock of the zone shows it, with an offset.
                assert created["starts_at"].endswith("Z")
                shown = datetime.fromisoformat(created["starts_at"])
                assert shown.astimezone(_zone(body["time_zone"])).replace(
                    tzinfo=None
                ) == datetime.fromisoformat(body["starts_at_local"])


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@pytest.mark.parametrize(("body", "rows"), WORKED, ids=[b["name"] for b, _ in WORKED])
async def test_each_worked_example_is_what_the_sales_get(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    body: dict[str, Any],
    rows: list[dict[str, str]],
) -> None:
    tills: dict[str, Till] = {}
    with time_machine.travel(BEFORE_THE_EXAMPLES, tick=True):
        admin = await hire(client, "admin")
        member = await log_in(client, live_server.sms)
        await launch(client, admin, **body)
        for zone in {row["store's zone"] for row in rows}:
            tills[zone] = await open_till(time_zone=zone)
    latte = line("latte", "coffee", 20000)
    for row in rows:
        at = datetime.fromisoformat(row["sale at (UTC)"])
        with time_machine.travel(at, tick=True):
            sale = await buy(
                client,
                tills[row["store's zone"]],
                purchase_body(member.card_number, amount=20000, items=[latte]),
            )
        assert sale.status_code == 201, sale.text
        applied = [o["name"] for o in sale.json()["offers_applied"]]
        assert applied == ([body["name"]] if row["applies"] == "yes" else []), row
