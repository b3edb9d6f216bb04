"""`make bench`'s floor for a sale's HTTP cost: a bare Litestar app with one POST route that
takes the sale's body as a msgspec Struct and answers 201 with a small JSON document, served
by uvicorn with `astrocoffee serve`'s own settings (``backend.ops.serving.uvicorn_options``).
No database, no Redis, no middleware: what the framework and the server cost on their own.

    python -m loadtests.peers.bare_litestar --port 8001 [--workers N]
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import Litestar, post

from loadtests.peers.serving import bare_app, serve


class Item(msgspec.Struct, forbid_unknown_fields=True):
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: int


class Customer(msgspec.Struct, forbid_unknown_fields=True):
    card_number: str


class Sale(msgspec.Struct, forbid_unknown_fields=True):
    customer: Customer
    external_id: str
    amount: int
    currency: str
    items: list[Item] = []


class Receipt(msgspec.Struct):
    purchase_id: str
    external_id: str
    amount: int
    points_earned: int


@post("/v1/purchases", status_code=201)
async def purchase(data: Sale) -> Receipt:
    return Receipt(str(uuid.uuid4()), data.external_id, data.amount, data.amount // 100)


def create_app() -> Litestar:
    return bare_app(purchase)


if __name__ == "__main__":
    serve("loadtests.peers.bare_litestar:create_app")
