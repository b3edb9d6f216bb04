"""`make bench`'s floor for a sale's HTTP cost: a bare Litestar app with one POST route that
takes the sale's body as a msgspec Struct and answers 201 with a small JSON document, served
by uvicorn with `astrocoffee serve`'s own settings (``backend.ops.serving.uvicorn_options``).
No database, no Redis, no middleware: what the framework and the server cost on their own.

    python -m loadtests.peers.bare_litestar --port 8001 [--workers N]
"""

from __future__ import annotations

import argparse
import uuid

import msgspec
import uvicorn
from litestar import Litestar, get, post


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


@get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def create_app() -> Litestar:
    return Litestar([purchase, ready], openapi_config=None)


def main() -> None:
    from backend.ops.serving import uvicorn_options
    from backend.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = msgspec.structs.replace(load_settings(), port=args.port, workers=args.workers)
    uvicorn.run("loadtests.peers.bare_litestar:create_app", **uvicorn_options(settings))


if __name__ == "__main__":
    main()
