from __future__ import annotations

import httpx

from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import buy, figures_folded, hire, log_in, open_till, purchase_body


async def test_todays_figures_for_the_dashboard(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    # Noon in Moscow, the store's zone: the sale and the question on the same business day.
    with at(utc(2027, 3, 15, 9, 0)):
        await _todays_figures_for_the_dashboard(client, live_server)


async def _todays_figures_for_the_dashboard(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    other = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    member = await log_in(client, live_server.sms)
    await buy(client, till, purchase_body(member.card_number, amount=35000))
    await figures_folded()
    stats = await client.get(f"/v1/admin/stores/{till.store_id}/stats", headers=barista.headers)
    assert stats.status_code == 200, stats.text
    figures = stats.json()
    assert figures["store_id"] == str(till.store_id)
    assert (figures["day"], figures["time_zone"]) == ("2027-03-15", "Europe/Moscow")
    assert (figures["sales"], figures["sales_amount"], figures["points_earned"]) == (1, 35000, 17)
    assert (figures["active_members"], figures["new_members"]) == (1, 1)
    elsewhere = await client.get(
        f"/v1/admin/stores/{other.store_id}/stats", headers=barista.headers
    )
    assert elsewhere.status_code in (403, 404)
