"""The accounting outbox: written with the sale, delivered exactly once whatever happens."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from backend.accounting import metrics
from backend.accounting.client import AccountingClient
from backend.accounting.outbox import DeliveryPolicy, deliver_due, sample_outbox_figures
from backend.local_time import StoreClock
from db.tables import OutboxMessage
from tests.backend.audit.support import entries
from tests.cli import SCRIPT, run_env
from tests.conftest import Shop
from tests.factories import buy, hire, log_in, open_till, purchase_body
from tests.servers import ROOT, RunServers

# No backoff: a failed message is due again at once. (A backoff of even 1 ms made tests that
# retry in a loop depend on the loop being slower than the backoff.)
QUICK = DeliveryPolicy(max_attempts=4, backoff_base_s=0, backoff_cap_s=0)


async def _sales(shop: Shop, count: int, *, redeem: int = 0) -> list[str]:
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    ids = []
    for _ in range(count):
        sale = await buy(shop.client, till, purchase_body(member.card_number, amount=35000))
        assert sale.status_code == 201, sale.text
        ids.append(sale.json()["purchase_id"])
    return ids


async def _deliver_everything(client: AccountingClient, policy: DeliveryPolicy = QUICK) -> None:
    while await deliver_due(client, policy):
        pass


def _start_worker(shop: Shop, servers: RunServers, **env: str) -> subprocess.Popen[str]:
    """``astrocoffee worker`` delivering to the shop's accounting system (``env``: more
    settings), its log on a pipe."""
    settings = run_env(
        servers,
        ASTROCOFFEE_ACCOUNTING_URL=shop.accounting_url,
        ASTROCOFFEE_ACCOUNTING_TOKEN=shop.accounting.token,
        ASTROCOFFEE_WORKER_METRICS_PORT="0",
        **env,
    )
    return subprocess.Popen(
        [str(SCRIPT), "worker"], env=settings, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )


async def _until_posted(shop: Shop, posts: int, *, poll_s: float, timeout_s: float = 30) -> None:
    """Until the accounting system has been sent ``posts`` requests, or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while shop.accounting.posts < posts and time.monotonic() < deadline:
        await asyncio.sleep(poll_s)


async def _statuses() -> dict[str, int]:
    rows = await OutboxMessage.select(OutboxMessage.status)
    found: dict[str, int] = {}
    for row in rows:
        found[row["status"]] = found.get(row["status"], 0) + 1
    return found


async def test_each_sale_and_refund_writes_its_document_in_its_transaction(shop: Shop) -> None:
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    sale = (await buy(shop.client, till, purchase_body(member.card_number, amount=35000))).json()
    refund = await shop.client.post(
        f"/v1/purchases/{sale['purchase_id']}/refunds",
        json={"amount": 35000, "reason": "spilled"},
        headers={**till.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    rows = await OutboxMessage.select().order_by(OutboxMessage.created_at).output(load_json=True)
    assert [(r["kind"], r["status"]) for r in rows] == [("sale", "pending"), ("refund", "pending")]
    sale_doc, refund_doc = (r["payload"] for r in rows)
    assert sale_doc["reference"] == sale["purchase_id"]
    assert (sale_doc["gross_amount"], sale_doc["net_amount"]) == (35000, 35000)
    assert sale_doc["points_issued"] == sale_doc["points_liability_delta"] == 17
    assert refund_doc["points_liability_delta"] == -17
    # Both happened in the store (Europe/Moscow, open_till's): dated on its business day.
    moscow = StoreClock.of("Europe/Moscow")
    for doc in (sale_doc, refund_doc):
        occurred = datetime.fromisoformat(doc["occurred_at"])
        assert doc["business_date"] == moscow.business_day(occurred).isoformat()


async def test_accounting_down_for_a_while_then_every_document_booked_once(
    shop: Shop, accounting: AccountingClient
) -> None:
    await _sales(shop, 5)
    shop.accounting.down = True
    await deliver_due(accounting, QUICK)
    await deliver_due(accounting, QUICK)
    assert await _statuses() == {"pending": 5}  # waiting, attempts counted
    assert {r["attempts"] for r in await OutboxMessage.select(OutboxMessage.attempts)} == {2}

    shop.accounting.down = False
    await _deliver_everything(accounting)
    assert await _statuses() == {"delivered": 5}
    keys = [key for key, _ in shop.accounting.booked]
    assert len(keys) == len(set(keys)) == 5


async def test_a_lost_answer_is_redelivered_and_booked_once(
    shop: Shop, accounting: AccountingClient
) -> None:
    await _sales(shop, 3)
    shop.accounting.book_then_fail_next = 3  # booked there, but we hear 500
    await deliver_due(accounting, QUICK)
    assert await _statuses() == {"pending": 3}
    await _deliver_everything(accounting)
    assert await _statuses() == {"delivered": 3}
    assert shop.accounting.posts == 6
    assert len(shop.accounting.booked) == 3
    acknowledgements = await OutboxMessage.select(OutboxMessage.id, OutboxMessage.acknowledgement)
    for row in acknowledgements:  # the document ids of the first, booked, delivery
        assert shop.accounting.documents[str(row["id"])].document_id == row["acknowledgement"]


async def test_two_workers_at_once_never_deliver_a_message_twice(
    shop: Shop, accounting: AccountingClient
) -> None:
    await _sales(shop, 30)
    shop.accounting.delay_s = 0.05  # keep batches in flight together
    policy = DeliveryPolicy(max_attempts=4)
    await asyncio.gather(
        *(deliver_due(accounting, policy, batch_size=4) for _ in range(6)),
    )
    await _deliver_everything(accounting, policy)
    assert await _statuses() == {"delivered": 30}
    assert shop.accounting.posts == 30  # not one message sent twice
    assert len(shop.accounting.booked) == 30


async def test_refusals_become_dead_letters_that_an_admin_can_retry(
    shop: Shop, accounting: AccountingClient
) -> None:
    await _sales(shop, 2)
    wrong = AccountingClient(url=shop.accounting_url, token="not-the-token")
    try:
        await deliver_due(wrong, QUICK)  # 401: retrying cannot change it
    finally:
        await wrong.aclose()
    assert await _statuses() == {"dead": 2}
    await sample_outbox_figures()
    assert metrics.DEAD_LETTERS._value.get() == 2

    admin = await hire(shop.client, "admin")
    letters = await shop.client.get("/v1/admin/outbox/dead-letters", headers=admin.headers)
    items = letters.json()["items"]
    assert [item["last_error"][:8] for item in items] == ["HTTP 401"] * 2
    for item in items:
        retried = await shop.client.post(
            f"/v1/admin/outbox/{item['id']}/retry", headers=admin.headers
        )
        assert retried.json() == {"id": item["id"], "status": "pending"}
    again = await shop.client.post(
        f"/v1/admin/outbox/{items[0]['id']}/retry", headers=admin.headers
    )
    assert again.status_code == 409
    # Each retry is on the audit trail, with what the letter was; the refused one is not.
    retries = await entries("outbox.retried")
    assert [(str(e["staff_id"]), e["target_id"]) for e in retries] == [
        (admin.staff_id, item["id"]) for item in items
    ]
    assert retries[0]["before"]["status"] == "dead"
    assert retries[0]["before"]["last_error"].startswith("HTTP 401")
    await _deliver_everything(accounting)
    assert await _statuses() == {"delivered": 2}


async def test_retryable_failures_become_dead_after_the_last_attempt(
    shop: Shop, accounting: AccountingClient
) -> None:
    await _sales(shop, 1)
    shop.accounting.down = True
    for _ in range(QUICK.max_attempts):
        await deliver_due(accounting, QUICK)
    assert await _statuses() == {"dead": 1}


async def test_outbox_lag_is_the_age_of_the_oldest_waiting_message(shop: Shop) -> None:
    await _sales(shop, 2)
    await sample_outbox_figures(now=datetime.now(UTC) + timedelta(seconds=90))
    assert 89 < metrics.OUTBOX_LAG._value.get() < 100
    assert metrics.OUTBOX_PENDING._value.get() == 2


async def test_a_worker_killed_mid_batch_loses_nothing(shop: Shop, servers: RunServers) -> None:
    await _sales(shop, 12)
    shop.accounting.delay_s = 0.5  # every answer takes a while: the kill lands mid-batch
    worker = _start_worker(shop, servers, ASTROCOFFEE_OUTBOX_BATCH_SIZE="5")
    try:
        await _until_posted(shop, 3, poll_s=0.05)
        assert shop.accounting.posts >= 3, "the worker never started delivering"
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=10)
        assert worker.stderr is not None
        worker.stderr.close()
    await asyncio.sleep(0.6)  # the fake finishes booking what it was sent
    assert (await _statuses()).get("delivered", 0) < 12

    client = AccountingClient(url=shop.accounting_url, token=shop.accounting.token, timeout_s=2)
    try:
        shop.accounting.delay_s = 0
        await _deliver_everything(client)
    finally:
        await client.aclose()
    assert await _statuses() == {"delivered": 12}
    keys = [key for key, _ in shop.accounting.booked]
    assert len(keys) == len(set(keys)) == 12  # redelivered ones were recognised


async def test_the_worker_finishes_its_batch_on_sigterm(shop: Shop, servers: RunServers) -> None:
    await _sales(shop, 4)
    shop.accounting.delay_s = 0.5
    worker = _start_worker(shop, servers)
    try:
        await _until_posted(shop, 1, poll_s=0.02)
        worker.send_signal(signal.SIGTERM)
        status = await asyncio.to_thread(worker.wait, 15)
    finally:
        if worker.poll() is None:
            worker.kill()
        assert worker.stderr is not None
        log = worker.stderr.read()
        worker.stderr.close()
    assert status in (0, 128 + signal.SIGTERM), log
    assert await _statuses() == {"delivered": 4}  # the batch in hand was finished
    assert "stopped after finishing its batch" in log


def test_documents_are_valid_json_for_the_accounting_system() -> None:
    from backend.accounting.documents import AccountingDocument

    document = AccountingDocument(
        id=uuid.uuid4(),
        type="sale",
        business_date=datetime.now(UTC).date(),
        reference="r",
        store_id=None,
        currency="RUB",
        gross_amount=1,
        loyalty_discount=0,
        net_amount=1,
        points_issued=0,
        points_redeemed=0,
        points_liability_delta=0,
        occurred_at=datetime.now(UTC),
    )
    decoded = msgspec.json.decode(msgspec.json.encode(document))
    assert (
        decoded["type"] == "sale" and decoded["business_date"] == document.business_date.isoformat()
    )
