"""Creating and publishing campaigns through the admin API, as an admin would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import SignedInStaff

# Double points on the bakery's items: the campaign the reports' and the refunds' tests run.
DOUBLE_BAKERY = {"type": "multiplier", "factor": 2, "categories": ["bakery"]}


async def create(client: httpx.AsyncClient, admin: SignedInStaff, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/admin/campaigns", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def launch(client: httpx.AsyncClient, admin: SignedInStaff, **body: Any) -> dict[str, Any]:
    """Create and publish now."""
    campaign = await create(client, admin, **body)
    published = await client.post(
        f"/v1/admin/campaigns/{campaign['id']}/publish", headers=admin.headers
    )
    assert published.status_code == 200, published.text
    result: dict[str, Any] = published.json()
    return result


def line(sku: str, category: str, price: int, quantity: int = 1) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": sku,
        "category": category,
        "quantity": quantity,
        "unit_price": price,
    }


# The lines the campaign tests ring up most: a coffee, which no bakery campaign touches, and a
# pastry, which DOUBLE_BAKERY doubles.
LATTE = line("latte", "coffee", 20000)
CROISSANT = line("croissant", "bakery", 15000)
