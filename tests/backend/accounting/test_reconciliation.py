"""Reconciliation of a day against the accounting system and the payment provider (fakes)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from backend.accounting.books import ExternalSystems
from backend.accounting.client import AccountingClient
from backend.accounting.outbox import DeliveryPolicy, deliver_due
from backend.accounting.reconciliation import reconcile_day
from backend.orders.payment_provider import PaymentProvider
from db.tables import OutboxMessage
from tests.cli import SCRIPT, run_env
from tests.conftest import Shop
from tests.factories import buy, grant, hire, log_in, open_till, purchase_body
from tests.servers import ROOT, RunServers

TODAY = datetime.now(UTC).date()


async def _a_busy_day(shop: Shop) -> dict[str, Any]:
    """Sales with and without points, a refund, an app order paid through the provider,
    a staff adjustment; every document delivered."""
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    await grant(member.member_id, 100)
    sales = [
        (await buy(shop.client, till, purchase_body(member.card_number, amount=a, **extra))).json()
        for a, extra in ((35000, {}), (20000, {"redeem_points": 30}), (9000, {}))
    ]
    refund = await shop.client.post(
        f"/v1/purchases/{sales[0]['purchase_id']}/refunds",
        json={"amount": 10000, "reason": "wrong milk"},
        headers={**till.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    order = (
        await shop.client.post(
            "/v1/orders",
            json={"store_id": str(till.store_id), "amount": 45000, "redeem_points": 20},
            headers={**member.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
    ).json()
    await shop.provider.settle(order["payment_id"], "succeeded")
    client = AccountingClient(url=shop.accounting_url, token=shop.accounting.token)
    try:
        while await deliver_due(client, DeliveryPolicy()):
            pass
    finally:
        await client.aclose()
    return {"sales": sales, "order": order, "member": member}


async def _reconcile(shop: Shop) -> Any:
    accounting = AccountingClient(url=shop.accounting_url, token=shop.accounting.token)
    provider = PaymentProvider(url=shop.provider_url, token=shop.provider.token)
    try:
        books = ExternalSystems(accounting=accounting, provider=provider)
        return await reconcile_day(TODAY, books)
    finally:
        await accounting.aclose()
        await provider.aclose()


async def test_a_day_with_everything_delivered_is_balanced(shop: Shop) -> None:
    await _a_busy_day(shop)
    report = await _reconcile(shop)
    assert report.differences == []
    assert report.balanced
    totals = report.totals
    assert (totals.sales, totals.orders_paid, totals.provider_payments_succeeded) == (4, 1, 1)
    assert totals.documents == totals.documents_acknowledged_by_accounting == 6
    assert totals.ledger_liability_delta == totals.documented_liability_delta != 0


async def test_injected_differences_are_each_reported(shop: Shop) -> None:
    day = await _a_busy_day(shop)
    sale_doc = (
        await OutboxMessage.select(OutboxMessage.id)
        .where(OutboxMessage.reference == day["sales"][1]["purchase_id"])
        .first()
    )
    refund_doc = (
        await OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.kind == "refund").first()
    )
    assert sale_doc is not None and refund_doc is not None
    shop.accounting.alter_booked(str(sale_doc["id"]), net_amount=1)
    shop.accounting.drop_booked(str(refund_doc["id"]))
    # A payment the provider took for an order we never recorded as paid.
    async with httpx.AsyncClient(base_url=shop.provider_url) as http:
        stray = await http.post(
            "/v1/payments",
            json={"amount": 500, "currency": "RUB", "reference": str(uuid.uuid4())},
            headers={"Authorization": f"Bearer {shop.provider.token}", "Idempotency-Key": "x"},
        )
    shop.provider.drop_webhooks = True
    await shop.provider.settle(stray.json()["payment_id"], "succeeded")

    report = await _reconcile(shop)
    assert not report.balanced
    kinds = sorted(d.kind for d in report.differences)
    assert kinds == ["booked_differently", "missing_at_accounting", "payment_without_paid_order"]
    altered = next(d for d in report.differences if d.kind == "booked_differently")
    assert altered.ours["net_amount"] == 20000 - 3000 and altered.theirs["net_amount"] == 1


async def test_the_command_and_the_admin_report_say_the_same(
    shop: Shop, servers: RunServers
) -> None:
    await _a_busy_day(shop)
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    await buy(shop.client, till, purchase_body(member.card_number))  # not yet delivered

    admin = await hire(shop.client, "admin")
    report = await shop.client.get(
        "/v1/admin/reports/reconciliation",
        params={"date": TODAY.isoformat()},
        headers=admin.headers,
    )
    assert report.status_code == 200, report.text
    assert [d["kind"] for d in report.json()["differences"]] == ["not_yet_delivered"]

    env = run_env(
        servers,
        ASTROCOFFEE_ACCOUNTING_URL=shop.accounting_url,
        ASTROCOFFEE_ACCOUNTING_TOKEN=shop.accounting.token,
        ASTROCOFFEE_PAYMENT_PROVIDER_URL=shop.provider_url,
        ASTROCOFFEE_PAYMENT_PROVIDER_TOKEN=shop.provider.token,
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [str(SCRIPT), "reconcile", "--date", TODAY.isoformat()],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert '"kind": "not_yet_delivered"' in done.stdout
