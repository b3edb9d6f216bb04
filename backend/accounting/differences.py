"""The differences reconciliation lists: each comparison of our books with the accounting
system's or the payment provider's for one day, as pure functions of the rows read
(``backend.accounting.reconciliation`` reads them and decides the day's bounds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from backend.orders.payment_provider import ProviderPayment
from db import sql

# What the accounting system must have booked as we sent it.
_COMPARED = ("type", "net_amount", "gross_amount", "points_liability_delta")


class Difference(msgspec.Struct, frozen=True):
    kind: str
    reference: str
    detail: str
    ours: Any = None
    theirs: Any = None


def sales_without_documents(
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


def against_accounting(
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


def against_provider(
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
