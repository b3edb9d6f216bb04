"""Reconciliation of a business day against the accounting system and the payment provider
(fakes), with the clock set by the tests: business dates are local, each store's own."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from backend.accounting.books import ExternalSystems
from backend.accounting.client import AccountingClient
from backend.accounting.reconciliation import reconcile_day
from backend.orders.payment_provider import PaymentProvider
from db.tables import OutboxMessage, Store
from tests.backend.accounting.delivery import deliver_everything
from tests.cli import SCRIPT, run_env
from tests.clock import at
from tests.conftest import Shop
from tests.factories import Till, buy, grant, hire, log_in, open_till, purchase_body
from tests.servers import ROOT, RunServers

# Noon in Moscow (the stores' and the program's zone here): the same date in UTC, for the
# payment provider, whose calendar is the UTC one.
TODAY = date(2027, 3, 15)
NOON = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)


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
    await deliver_everything(shop)
    return {"sales": sales, "order": order, "member": member}


def _cli_env(servers: RunServers, shop: Shop) -> dict[str, str]:
    """The environment of ``astrocoffee reconcile`` run against the shop's two external
    systems (real HTTP fakes)."""
    return run_env(
        servers,
        ASTROCOFFEE_ACCOUNTING_URL=shop.accounting_url,
        ASTROCOFFEE_ACCOUNTING_TOKEN=shop.accounting.token,
        ASTROCOFFEE_PAYMENT_PROVIDER_URL=shop.provider_url,
        ASTROCOFFEE_PAYMENT_PROVIDER_TOKEN=shop.provider.token,
    )


async def _reconcile(shop: Shop, day: date = TODAY, store_id: uuid.UUID | None = None) -> Any:
    accounting = AccountingClient(url=shop.accounting_url, token=shop.accounting.token)
    provider = PaymentProvider(url=shop.provider_url, token=shop.provider.token)
    try:
        books = ExternalSystems(accounting=accounting, provider=provider)
        return await reconcile_day(day, books, store_id=store_id)
    finally:
        await accounting.aclose()
        await provider.aclose()


async def test_a_day_with_everything_delivered_is_balanced(shop: Shop) -> None:
    with at(NOON):
        await _a_busy_day(shop)
        report = await _reconcile(shop)
    assert report.differences == []
    assert report.balanced
    totals = report.totals
    assert (totals.sales, totals.orders_paid, totals.provider_payments_succeeded) == (4, 1, 1)
    assert totals.documents == totals.documents_acknowledged_by_accounting == 6
    assert totals.ledger_liability_delta == totals.documented_liability_delta != 0


async def test_injected_differences_are_each_reported(shop: Shop) -> None:
    with at(NOON):
        await _injected_differences_are_each_reported(shop)


async def _injected_differences_are_each_reported(shop: Shop) -> None:
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
    with at(NOON):
        await _the_command_and_the_admin_report_say_the_same(shop, servers)


async def _the_command_and_the_admin_report_say_the_same(shop: Shop, servers: RunServers) -> None:
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

    env = _cli_env(servers, shop)
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


# Vladivostok is UTC+10, Kaliningrad UTC+2 and Moscow (the program's zone) UTC+3, none with
# DST: 13:30 UTC on the 15th is 23:30 in Vladivostok, 22:30 UTC on the 14th is already 00:30
# on the 15th in Kaliningrad (and 01:30 in Moscow).
EAST_LATE = datetime(2027, 3, 15, 13, 30, tzinfo=UTC)  # Vladivostok 15th 23:30
EAST_NEXT = datetime(2027, 3, 15, 14, 30, tzinfo=UTC)  # Vladivostok 16th 00:30
WEST_EARLY = datetime(2027, 3, 14, 22, 30, tzinfo=UTC)  # Kaliningrad 15th 00:30
WEST_BEFORE = datetime(2027, 3, 14, 21, 30, tzinfo=UTC)  # Kaliningrad 14th 23:30


async def _sales_near_local_midnights(shop: Shop) -> tuple[Till, Till]:
    """A sale on each side of each store's midnight, one redeeming points, a refund the next
    morning and a staff adjustment at 01:30 in Moscow; everything delivered."""
    east = await open_till(time_zone="Asia/Vladivostok", code="VVO-1")
    west = await open_till(time_zone="Europe/Kaliningrad", code="KGD-1")
    with at(WEST_BEFORE):
        member = await log_in(shop.client, shop.sms)
        await buy(shop.client, west, purchase_body(member.card_number, amount=11000))
    with at(WEST_EARLY):
        await grant(member.member_id, 100)  # the program's zone: 01:30 on the 15th in Moscow
        early = await buy(
            shop.client, west, purchase_body(member.card_number, amount=22000, redeem_points=40)
        )
        assert early.status_code == 201, early.text
    with at(EAST_LATE):
        late = await buy(shop.client, east, purchase_body(member.card_number, amount=33000))
        assert late.status_code == 201, late.text
    with at(EAST_NEXT):
        await buy(shop.client, east, purchase_body(member.card_number, amount=44000))
        # The Kaliningrad sale of the 15th refunded: 16:30 on the 15th there, its same day.
        refund = await shop.client.post(
            f"/v1/purchases/{early.json()['purchase_id']}/refunds",
            json={"amount": 2000, "reason": "wrong size"},
            headers={**west.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refund.status_code == 201, refund.text
        await deliver_everything(shop)
    return east, west


async def test_sales_near_each_store_s_midnight_land_on_their_local_dates(shop: Shop) -> None:
    east, west = await _sales_near_local_midnights(shop)
    with at(EAST_NEXT):
        chain = await _reconcile(shop, TODAY)
        before, after = (
            await _reconcile(shop, date(2027, 3, 14)),
            await _reconcile(shop, date(2027, 3, 16)),
        )
        in_the_east = await _reconcile(shop, TODAY, east.store_id)
        in_the_west = await _reconcile(shop, TODAY, west.store_id)
    for report in (chain, before, after, in_the_east, in_the_west):
        assert report.differences == [], report
        assert report.balanced
    # The 15th: Vladivostok's 23:30 sale, Kaliningrad's 00:30 sale and its refund, and the
    # adjustment at 01:30 in Moscow; the other two sales each on their own local date.
    assert (chain.totals.sales, chain.totals.sales_gross_amount) == (2, 55000)
    assert chain.totals.documents == chain.totals.documents_acknowledged_by_accounting == 4
    assert chain.totals.ledger_liability_delta == chain.totals.documented_liability_delta
    assert chain.totals.ledger_liability_delta == (
        in_the_east.totals.ledger_liability_delta
        + in_the_west.totals.ledger_liability_delta
        + 100  # the adjustment, no store's
    )
    assert (before.totals.sales, before.totals.sales_gross_amount) == (1, 11000)
    assert (after.totals.sales, after.totals.sales_gross_amount) == (1, 44000)
    assert (in_the_east.totals.sales, in_the_east.totals.sales_gross_amount) == (1, 33000)
    assert (in_the_west.totals.sales, in_the_west.totals.documents) == (1, 2)
    assert (in_the_east.store_id, in_the_east.time_zone) == (east.store_id, "Asia/Vladivostok")
    assert (chain.store_id, chain.program_time_zone) == (None, "Europe/Moscow")
    documents = await OutboxMessage.select(OutboxMessage.kind, OutboxMessage.business_date)
    assert sorted((d["business_date"].isoformat(), d["kind"]) for d in documents) == [
        ("2027-03-14", "sale"),
        ("2027-03-15", "points_adjustment"),
        ("2027-03-15", "refund"),
        ("2027-03-15", "sale"),
        ("2027-03-15", "sale"),
        ("2027-03-16", "sale"),
    ]


async def test_a_store_s_day_is_reconciled_by_the_command_and_the_admin_report(
    shop: Shop, servers: RunServers
) -> None:
    east, _ = await _sales_near_local_midnights(shop)
    with at(EAST_NEXT):
        admin = await hire(shop.client, "admin")
        answer = await shop.client.get(
            "/v1/admin/reports/reconciliation",
            params={"date": "2027-03-15", "store_id": str(east.store_id)},
            headers=admin.headers,
        )
        nowhere = await shop.client.get(
            "/v1/admin/reports/reconciliation",
            params={"date": "2027-03-15", "store_id": str(uuid.uuid4())},
            headers=admin.headers,
        )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["balanced"], answer.json()["totals"]["sales"]) == (True, 1)
    assert answer.json()["time_zone"] == "Asia/Vladivostok"
    assert nowhere.status_code == 404, nowhere.text
    env = _cli_env(servers, shop)
    store = await Store.select(Store.code).where(Store.id == east.store_id).first()
    assert store is not None

    async def reconcile(*options: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [str(SCRIPT), "reconcile", "--date", "2027-03-15", *options],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    for options in ((), ("--store", store["code"])):
        done = await reconcile(*options)
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"balanced": true' in done.stdout
    assert '"sales": 1,' in done.stdout and '"time_zone": "Asia/Vladivostok"' in done.stdout
    unknown = await reconcile("--store", "NOWHERE")
    assert unknown.returncode == 2
    last_line = unknown.stderr.strip().splitlines()[-1]
    assert last_line == "astrocoffee reconcile: no store has the code 'NOWHERE'"


async def test_a_store_that_moved_to_another_zone_keeps_its_earlier_days(shop: Shop) -> None:
    till = await open_till(time_zone="Asia/Vladivostok")
    with at(EAST_NEXT):  # 00:30 on the 16th in Vladivostok, 16:30 on the 15th in Kaliningrad
        member = await log_in(shop.client, shop.sms)
        await buy(shop.client, till, purchase_body(member.card_number, amount=33000))
        await deliver_everything(shop)
        admin = await hire(shop.client, "admin")
        moved = await shop.client.patch(
            f"/v1/admin/stores/{till.store_id}",
            json={"time_zone": "Europe/Kaliningrad"},
            headers=admin.headers,
        )
        assert moved.status_code == 200, moved.text
        the_15th = await _reconcile(shop, TODAY, till.store_id)
        the_16th = await _reconcile(shop, date(2027, 3, 16), till.store_id)
    # The sale stays on the date its document was given, not the one its new zone would say.
    assert (the_15th.balanced, the_15th.totals.sales) == (True, 0)
    assert (the_16th.balanced, the_16th.totals.sales, the_16th.totals.documents) == (True, 1, 1)
    assert the_16th.time_zone == "Europe/Kaliningrad"
