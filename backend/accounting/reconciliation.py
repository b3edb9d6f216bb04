"""Reconciliation of one business day: our books against the accounting system's and the
payment provider's. Every difference is listed; none is corrected automatically.

Checks, for the UTC day D:
- points liability: the sum of D's ledger entries (available + pending + held) equals the
  sum of ``points_liability_delta`` over D's accounting documents in our outbox (every
  movement was documented);
- every sale of D has its sale document, and the document's amounts are the sale's;
- every document of D was acknowledged by the accounting system, with the same amounts,
  and the accounting system booked nothing for D that we did not send;
- every app order paid on D has a succeeded provider payment of the same amount, and every
  succeeded provider payment of D belongs to an order we recorded as paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import msgspec

from backend.orders.payment_provider import ProviderPayment
from db import sql

_COMPARED = ("type", "net_amount", "gross_amount", "points_liability_delta")


class Difference(msgspec.Struct, frozen=True):
    kind: str
    reference: str
    detail: str
    ours: Any = None
    theirs: Any = None


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
    business_date: date
    balanced: bool
    totals: DayTotals
    differences: list[Difference]


class ExternalBooks(Protocol):
    async def accounting_documents(self, day: date) -> list[dict[str, Any]]: ...

    async def provider_payments(self, day: date) -> list[ProviderPayment]: ...


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def reconcile_day(day: date, books: ExternalBooks) -> ReconciliationReport:
    start, end = _day_bounds(day)
    differences: list[Difference] = []

    async def of_the_day(query: str) -> Sequence[sql.Row]:
        # A report: a moment of replica lag does not matter.
        return await sql.fetch_lagging(query, start=start, end=end)

    ledger = await of_the_day(
        "SELECT COALESCE(SUM(available_delta + pending_delta + held_delta), 0)::bigint AS delta "
        "FROM ledger_entry WHERE created_at >= {start} AND created_at < {end}"
    )
    documents = await sql.fetch_lagging(
        "SELECT id, kind, reference, status, acknowledgement, payload::text AS payload "
        "FROM outbox_message WHERE destination = 'accounting' AND business_date = {day}",
        day=day,
    )
    ours = {
        str(row["id"]): {**row, "body": msgspec.json.decode(row["payload"])} for row in documents
    }
    sales = await of_the_day(
        "SELECT p.id, p.amount, p.paid_amount FROM purchase p "
        "WHERE p.created_at >= {start} AND p.created_at < {end}"
    )
    orders = await of_the_day(
        "SELECT id, payment_id, payable_amount FROM customer_order "
        "WHERE status = 'paid' AND created_at >= {start} AND created_at < {end}"
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
    differences += _sales_without_documents(sales, ours)

    booked = await books.accounting_documents(day)
    theirs = {str(doc["idempotency_key"]): doc for doc in booked}
    differences += _against_accounting(ours, theirs)

    payments = await books.provider_payments(day)
    differences += _against_provider(orders, payments)

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
        business_date=day, balanced=not differences, totals=totals, differences=differences
    )


def _sales_without_documents(
    sales: Sequence[sql.Row], ours: dict[str, dict[str, Any]]
) -> list[Difference]:
    documented = {d["reference"]: d["body"] for d in ours.values() if d["kind"] == "sale"}
    found = []
    for sale in sales:
        body = documented.get(str(sale["id"]))
        if body is None:
            found.append(
                Difference(
                    kind="sale_without_document",
                    reference=str(sale["id"]),
                    detail="a sale of the day has no accounting document",
                )
            )
        elif (body["gross_amount"], body["net_amount"]) != (sale["amount"], sale["paid_amount"]):
            found.append(
                Difference(
                    kind="document_differs_from_sale",
                    reference=str(sale["id"]),
                    detail="the sale document's amounts are not the sale's",
                    ours=[sale["amount"], sale["paid_amount"]],
                    theirs=[body["gross_amount"], body["net_amount"]],
                )
            )
    return found


def _against_accounting(
    ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]
) -> list[Difference]:
    found = []
    for key, document in ours.items():
        booked = theirs.get(key)
        if booked is None:
            kind, detail = {
                "pending": ("not_yet_delivered", "still waiting in the outbox"),
                "dead": ("dead_letter", "given up on after repeated failures; retry it"),
            }.get(
                document["status"],
                ("missing_at_accounting", "we hold an acknowledgement the system does not"),
            )
            found.append(Difference(kind=kind, reference=document["reference"], detail=detail))
            continue
        body = booked.get("body", {})
        mine = {field: document["body"].get(field) for field in _COMPARED}
        seen = {field: body.get(field) for field in _COMPARED}
        if mine != seen:
            found.append(
                Difference(
                    kind="booked_differently",
                    reference=document["reference"],
                    detail="the accounting system booked other figures than we sent",
                    ours=mine,
                    theirs=seen,
                )
            )
    for key in theirs.keys() - ours.keys():
        found.append(
            Difference(
                kind="unknown_at_accounting",
                reference=key,
                detail="the accounting system booked a document we did not send for this day",
            )
        )
    return found


def _against_provider(
    orders: Sequence[sql.Row], payments: Sequence[ProviderPayment]
) -> list[Difference]:
    found = []
    succeeded = {p.reference: p for p in payments if p.status == "succeeded"}
    for order in orders:
        reference = str(order["id"])
        payment = succeeded.pop(reference, None)
        if int(order["payable_amount"]) == 0:
            continue  # paid with points only: no provider payment exists
        if payment is None:
            found.append(
                Difference(
                    kind="paid_order_without_payment",
                    reference=reference,
                    detail="the order is paid here but the provider has no succeeded payment",
                )
            )
        elif payment.amount != int(order["payable_amount"]):
            found.append(
                Difference(
                    kind="payment_amount_differs",
                    reference=reference,
                    detail="the provider charged another amount",
                    ours=int(order["payable_amount"]),
                    theirs=payment.amount,
                )
            )
    for reference, payment in succeeded.items():
        found.append(
            Difference(
                kind="payment_without_paid_order",
                reference=reference,
                detail=f"the provider's payment {payment.payment_id} succeeded but the order "
                "is not paid here",
                theirs=payment.amount,
            )
        )
    return found
