from __future__ import annotations

import httpx

from tests.factories import LoggedInMember, Till, buy, purchase_body


def value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_metrics_count_requests_and_ledger_entries(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    before = (await client.get("/metrics")).text
    label = 'astrocoffee_ledger_entries_total{kind="earn"}'
    earned_before = value(before, label) if label in before else 0.0
    await buy(client, till, purchase_body(member.card_number))
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert value(text, label) == earned_before + 1
    assert "astrocoffee_requests_total" in text
    assert 'path="/v1/purchases"' in text
    assert "astrocoffee_websocket_connections" in text
    assert "astrocoffee_realtime_subscribed_channels" in text
