"""Reconciliation of one business day: our books against the accounting system's and the
payment provider's. Every difference is listed; none is corrected automatically.

A business date D is local (``backend.accounting.documents``): a store's D is its own
calendar day in its own zone, from its day-start hour; a movement no store made belongs to
the program zone's D. D chain-wide is the union of those: every store's local D, and the
program zone's D for the rest; one store's D (``store_id``) is that store's part alone.

Checks, for D:
- points liability: the ledger entries of D (available + pending + held) add up to the
  ``points_liability_delta`` of D's accounting documents in our outbox (every movement was
  documented). A ledger entry's day is its movement's: the business date of the document
  written with it (same member, same instant, same transaction), so that a sale at 23:30 in
  Vladivostok and one at 00:30 in Kaliningrad are each summed on their own local date; an
  entry no document goes with is dated in the program's zone (holds and releases move
  nothing in total; anything else there is an undocumented movement, reported on that day);
- every sale made on D (in its store's calendar) has its sale document, with the sale's
  amounts;
- every document of D was acknowledged by the accounting system, with the same amounts,
  and the accounting system booked nothing for D that we did not send;
- every app order paid on D has a succeeded provider payment of the same amount, and every
  succeeded provider payment of D belongs to an order we recorded as paid. Here D is the
  payment provider's own calendar day, which is the UTC day (its ``GET /v1/payments?date=``
  lists the payments created that UTC day): the orders are taken from the same UTC day so
  that the two lists are comparable.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import msgspec

from backend.accounting.differences import (
    Difference,
    against_accounting,
    against_provider,
    sales_without_documents,
)
from backend.accounting.documents import program_zone
from backend.local_time import StoreClock
from backend.orders.payment_provider import ProviderPayment
from db import sql


class DayTotals(msgspec.Struct, frozen=True):
    sales: int
    sales_gross_amount: int
    sales_net_amount: int
    documents: int
    documents_delivered: int
    documents_acknowledged_by_accounting: int
    ledger_liability_delta: int
    documented_liability_delta: int
    orders_paid: int
    provider_payments_succeeded: int


class ReconciliationReport(msgspec.Struct, frozen=True):
    business_date: date  # local: each store's own calendar date, see ``time_zone``
    balanced: bool
    totals: DayTotals
    differences: list[Difference]
    # One store's day: the store and its zone. Chain-wide (both None): every store's D in its
    # own zone, and store-less movements in ``program_time_zone``.
    store_id: uuid.UUID | None = None
    time_zone: str | None = None
    program_time_zone: str | None = None


class ExternalBooks(Protocol):
    async def accounting_documents(self, day: date) -> list[dict[str, Any]]: ...

    async def provider_payments(self, day: date) -> list[ProviderPayment]: ...


def _utc_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _any_calendar_bounds(day: date) -> tuple[datetime, datetime]:
    """Instants that hold ``day`` in every calendar: zones run from UTC-12 to UTC+14, and a
    business day starts up to 6 hours after midnight. Wide enough for the days of documents
    dated in a zone their store has since left."""
    start, end = _utc_day_bounds(day)
    return start - timedelta(hours=14), end + timedelta(hours=12 + 6)


# A movement's document is written a moment before its ledger entries: looked for earlier.
_DOCUMENT_LEAD = timedelta(hours=1)


class UnknownStore(LookupError):
    """Reconciliation was asked for a store that does not exist."""


# A movement's ledger entries are one member's, written at one instant (``AccountChange``
# posts them together); its documents were written in the same transaction, earlier, with the
# instant the movement began. So each movement is dated by the latest document of its member
# at or before it (carried forward in time order), and summed where that date is D (and the
# store, for one store's report). A movement with no document before it in the window is
# dated in the program's zone. A document's member, by its kind: its reference is what it
# reports (``record_document``'s callers): a purchase, a refund, an account (expiry), a
# coupon (reward) or the member itself.
_LEDGER_OF_THE_DAY = """
WITH movements AS (
    SELECT a.member, e.created_at AS at,
           SUM(e.available_delta + e.pending_delta + e.held_delta) AS delta
    FROM ledger_entry e JOIN account a ON a.id = e.account
    WHERE e.created_at >= {wide_start} AND e.created_at < {wide_end}
    GROUP BY a.member, e.created_at
), documented AS (
    SELECT o.created_at AS at, o.business_date, o.payload->>'store_id' AS store,
           CASE o.kind
               WHEN 'sale' THEN (SELECT p.member FROM purchase p WHERE p.id = o.reference::uuid)
               WHEN 'refund' THEN (SELECT p.member FROM refund r
                                   JOIN purchase p ON p.id = r.purchase
                                   WHERE r.id = o.reference::uuid)
               WHEN 'points_expiry' THEN (SELECT a.member FROM account a
                                          WHERE a.id = o.reference::uuid)
               WHEN 'points_redemption' THEN (SELECT c.member FROM member_offer c
                                              WHERE c.id = o.reference::uuid)
               ELSE o.reference::uuid
           END AS member
    FROM outbox_message o
    WHERE o.destination = 'accounting'
      AND o.created_at >= {documents_start} AND o.created_at < {wide_end}
), in_time AS (
    SELECT member, at, 0 AS after, business_date, store, NULL::bigint AS delta FROM documented
    UNION ALL
    SELECT member, at, 1, NULL, NULL, delta FROM movements
), numbered AS (
    SELECT *, COUNT(business_date) OVER (PARTITION BY member ORDER BY at, after) AS document_no
    FROM in_time
), dated AS (
    SELECT delta, at,
           MAX(business_date) OVER (PARTITION BY member, document_no) AS business_date,
           MAX(store) OVER (PARTITION BY member, document_no) AS store,
           document_no
    FROM numbered
)
SELECT COALESCE(SUM(delta), 0)::bigint AS delta
FROM dated
WHERE delta IS NOT NULL AND at >= {wide_start} AND CASE
    WHEN document_no = 0
    THEN {store_id}::uuid IS NULL AND at >= {program_start} AND at < {program_end}
    ELSE business_date = {day} AND ({store_id}::uuid IS NULL OR store = {store_id}::uuid::text)
END
"""

_STORES = """
SELECT id, time_zone, day_starts_at FROM store
WHERE {store_id}::uuid IS NULL OR id = {store_id}::uuid
ORDER BY id
"""

# The sales of D: those whose sale document is dated D, and those without one that were made
# on their store's D (its bounds, one row per store). A sale of the window is dated within
# two days of D whatever the zone, so those days' documents are the ones looked at; a store
# whose zone has changed keeps its earlier sales on the dates their documents were given.
_SALES_OF_THE_DAY = """
SELECT p.id, p.amount, p.paid_amount
FROM unnest({stores}::uuid[], {starts}::timestamptz[], {ends}::timestamptz[])
     AS d(store, start_at, end_at)
JOIN purchase p ON p.store = d.store AND p.created_at >= {wide_start} AND p.created_at < {wide_end}
LEFT JOIN outbox_message o
       ON o.destination = 'accounting' AND o.kind = 'sale' AND o.reference = p.id::text
      AND o.business_date BETWEEN {day_before} AND {day_after}
WHERE CASE WHEN o.id IS NULL THEN p.created_at >= d.start_at AND p.created_at < d.end_at
           ELSE o.business_date = {day}
      END
"""

_DOCUMENTS_OF_THE_DAY = """
SELECT id, kind, reference, status, acknowledgement, payload::text AS payload
FROM outbox_message
WHERE destination = 'accounting' AND business_date = {day}
  AND ({store_id}::uuid IS NULL OR payload->>'store_id' = {store_id}::uuid::text)
"""

_ORDERS_OF_THE_PROVIDER_DAY = """
SELECT id, payment_id, payable_amount FROM customer_order
WHERE status = 'paid' AND created_at >= {start} AND created_at < {end}
  AND ({store_id}::uuid IS NULL OR store = {store_id}::uuid)
"""

_ORDERS_OF_OTHER_STORES = """
SELECT id FROM customer_order WHERE id = ANY({orders}::uuid[]) AND store <> {store_id}
"""


async def reconcile_day(
    day: date, books: ExternalBooks, *, store_id: uuid.UUID | None = None
) -> ReconciliationReport:
    """Reconcile business date ``day`` chain-wide, or one store's ``day`` (``store_id``);
    ``UnknownStore`` if there is no such store."""
    differences: list[Difference] = []
    # A report: a moment of replica lag does not matter.
    stores = await sql.fetch_lagging(_STORES, store_id=store_id)
    if store_id is not None and not stores:
        raise UnknownStore(f"store {store_id} does not exist")
    clocks = [StoreClock.of(row["time_zone"], row["day_starts_at"]) for row in stores]
    bounds = [clock.day_bounds(day) for clock in clocks]
    program_start, program_end = StoreClock(program_zone()).day_bounds(day)
    wide_start, wide_end = _any_calendar_bounds(day)

    ledger = await sql.fetch_lagging(
        _LEDGER_OF_THE_DAY,
        day=day,
        store_id=store_id,
        wide_start=wide_start,
        wide_end=wide_end,
        documents_start=wide_start - _DOCUMENT_LEAD,
        program_start=program_start,
        program_end=program_end,
    )
    documents = await sql.fetch_lagging(_DOCUMENTS_OF_THE_DAY, day=day, store_id=store_id)
    ours = {
        str(row["id"]): {**row, "body": msgspec.json.decode(row["payload"])} for row in documents
    }
    sales = await sql.fetch_lagging(
        _SALES_OF_THE_DAY,
        day=day,
        day_before=day - timedelta(days=2),
        day_after=day + timedelta(days=2),
        wide_start=wide_start,
        wide_end=wide_end,
        stores=[row["id"] for row in stores],
        starts=[start for start, _ in bounds],
        ends=[end for _, end in bounds],
    )
    provider_start, provider_end = _utc_day_bounds(day)
    orders = await sql.fetch_lagging(
        _ORDERS_OF_THE_PROVIDER_DAY, start=provider_start, end=provider_end, store_id=store_id
    )

    ledger_delta = int(ledger[0]["delta"])
    documented = sum(int(d["body"]["points_liability_delta"]) for d in ours.values())
    if ledger_delta != documented:
        differences.append(
            Difference(
                kind="liability_not_documented",
                reference=day.isoformat(),
                detail="the day's ledger entries and its accounting documents move the points "
                "liability by different amounts",
                ours=ledger_delta,
                theirs=documented,
            )
        )
    differences += sales_without_documents(sales, ours)

    booked = await books.accounting_documents(day)
    if store_id is not None:  # the accounting system's day is chain-wide: this store's part
        booked = [doc for doc in booked if doc.get("body", {}).get("store_id") == str(store_id)]
    theirs = {str(doc["idempotency_key"]): doc for doc in booked}
    differences += against_accounting(ours, theirs)

    payments = await books.provider_payments(day)
    if store_id is not None:  # the provider knows no stores: leave out other stores' orders
        others = await sql.fetch_lagging(
            _ORDERS_OF_OTHER_STORES, orders=_order_ids(payments), store_id=store_id
        )
        elsewhere = {str(row["id"]) for row in others}
        payments = [p for p in payments if p.reference not in elsewhere]
    differences += against_provider(orders, payments)

    totals = DayTotals(
        sales=len(sales),
        sales_gross_amount=sum(int(s["amount"]) for s in sales),
        sales_net_amount=sum(int(s["paid_amount"]) for s in sales),
        documents=len(ours),
        documents_delivered=sum(1 for d in ours.values() if d["status"] == "delivered"),
        documents_acknowledged_by_accounting=len(set(ours) & set(theirs)),
        ledger_liability_delta=ledger_delta,
        documented_liability_delta=documented,
        orders_paid=len(orders),
        provider_payments_succeeded=sum(1 for p in payments if p.status == "succeeded"),
    )
    return ReconciliationReport(
        business_date=day,
        balanced=not differences,
        totals=totals,
        differences=differences,
        store_id=store_id,
        time_zone=clocks[0].zone.key if store_id is not None else None,
        program_time_zone=program_zone().key if store_id is None else None,
    )


def _order_ids(payments: Sequence[ProviderPayment]) -> list[uuid.UUID]:
    """The payments' references that can be order ids (the provider takes any string)."""
    found = []
    for payment in payments:
        try:
            found.append(uuid.UUID(payment.reference))
        except ValueError:
            continue
    return found
