"""Steps the campaign browser tests share: a sale rung up at the till at a chosen moment (the
server's clock moved there), the week of sales a draft's forecast replays, and "double points on
croissants, weekdays 07:00 to 11:00" written into the dashboard's campaign builder from its
controls alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import time_machine
from playwright.async_api import Page

from tests.backend.campaigns.helpers import line
from tests.factories import Till, buy, purchase_body

CROISSANTS = line("croissant", "croissant", 15000, quantity=2)
COFFEE = line("americano", "coffee", 20000)
# The till's store is in Moscow (UTC+3); 7 January 2030 is a Monday. Monday's and Tuesday's
# mornings "double points on croissants" would have paid, Wednesday afternoon not.
SALES = (
    (datetime(2030, 1, 7, 5, 0, tzinfo=UTC), [CROISSANTS, COFFEE]),  # Monday 08:00
    (datetime(2030, 1, 8, 6, 30, tzinfo=UTC), [CROISSANTS]),  # Tuesday 09:30
    (datetime(2030, 1, 9, 12, 0, tzinfo=UTC), [CROISSANTS]),  # Wednesday 15:00: too late
)
# The Friday afternoon after that week, when the admin drafts the campaign.
FORECAST_AT = datetime(2030, 1, 11, 12, 0, tzinfo=UTC)


async def sell_at(
    client: httpx.AsyncClient,
    till: Till,
    card_number: str,
    at: datetime,
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    """The sale of ``items`` to the card's member at ``at`` (paid in full); the till's answer."""
    amount = sum(item["unit_price"] * item["quantity"] for item in items)
    with time_machine.travel(at, tick=True):
        sale = await buy(client, till, purchase_body(card_number, amount=amount, items=items))
    assert sale.status_code == 201, sale.text
    answer: dict[str, Any] = sale.json()
    return answer


async def write_double_croissants(page: Page, name: str) -> None:
    """The builder's controls set to: multiplier 2 on the category ``croissant``, Monday to
    Friday, 07:00 to 11:00 (the store's clock)."""
    form = page.locator("#campaign-form")
    await form.locator("#campaign-name").fill(name)
    await form.locator("#campaign-kind").select_option("multiplier")
    await form.locator("#rule-factor").fill("2")
    await form.locator("#rule-categories").fill("croissant")
    for day in range(5):  # Monday to Friday
        await form.locator(f"#target-day-{day}").check()
    await form.locator("#target-from").fill("07:00")
    await form.locator("#target-to").fill("11:00")
