"""API shapes of the product catalogue."""

from __future__ import annotations

import msgspec


class Product(msgspec.Struct, frozen=True):
    sku: str
    name: str
    category: str


class ProductPage(msgspec.Struct, frozen=True):
    """Products in SKU order; ``next_cursor`` (the last SKU) fetches the next page."""

    items: list[Product]
    next_cursor: str | None
    total: int


class CategoryList(msgspec.Struct, frozen=True):
    categories: list[str]


class CatalogueReplaced(msgspec.Struct, frozen=True):
    """What an upload left in force: how many products and categories, and how many before."""

    products: int
    categories: int
    replaced: int
