"""Replacing and reading the product catalogue.

A replacement is one transaction: the table is locked against other replacements (readers
go on reading the catalogue in force), emptied, filled from the file and the upload put on
the audit trail, so a reader sees the old catalogue or the new one, never a mix, and a
refused file leaves it as it was.
"""

from __future__ import annotations

from backend.audit.trail import record
from backend.errors import ValidationFailed
from backend.products.schemas import CatalogueReplaced, CategoryList, Product, ProductPage
from db import sql
from db.tables.catalogue import Product as ProductRow

PAGE_MAX = 500
MAX_CATEGORIES = 1000

# Two uploads at once would each empty what they see and then collide on the other's rows:
# they wait for each other instead. Reads take no lock that this one conflicts with.
_LOCK = "LOCK TABLE product IN SHARE ROW EXCLUSIVE MODE"
_EMPTY = "WITH gone AS (DELETE FROM product RETURNING 1) SELECT count(*) AS replaced FROM gone"
_FILL = """
INSERT INTO product (sku, name, category)
SELECT * FROM unnest({skus}::varchar[], {names}::varchar[], {categories}::varchar[])
"""


async def replace_catalogue(products: list[Product], *, size_bytes: int) -> CatalogueReplaced:
    """The catalogue becomes ``products`` (already checked, ``backend.products.csv_file``)."""
    categories = len({product.category for product in products})
    async with ProductRow._meta.db.transaction():
        await sql.fetch(_LOCK)
        replaced = int((await sql.fetch(_EMPTY))[0]["replaced"])
        await sql.fetch(
            _FILL,
            skus=[product.sku for product in products],
            names=[product.name for product in products],
            categories=[product.category for product in products],
        )
        result = CatalogueReplaced(products=len(products), categories=categories, replaced=replaced)
        await record(
            "catalogue.replaced",
            target_type="catalogue",
            target_id=None,
            before={"products": replaced},
            after={"products": len(products), "categories": categories, "bytes": size_bytes},
        )
    return result


async def product_page(*, limit: int, cursor: str | None) -> ProductPage:
    if limit < 1 or limit > PAGE_MAX:
        raise ValidationFailed(f"limit must be 1 to {PAGE_MAX}")
    query = ProductRow.select().order_by(ProductRow.sku).limit(limit + 1)
    if cursor is not None:
        query = query.where(ProductRow.sku > cursor)
    rows = await query
    items = [_product(row) for row in rows[:limit]]
    total = await ProductRow.count()
    next_cursor = items[-1].sku if len(rows) > limit else None
    return ProductPage(items=items, next_cursor=next_cursor, total=total)


async def all_products() -> list[Product]:
    rows = await ProductRow.select().order_by(ProductRow.sku)
    return [_product(row) for row in rows]


async def categories() -> CategoryList:
    rows = (
        await ProductRow.select(ProductRow.category)
        .distinct()
        .order_by(ProductRow.category)
        .limit(MAX_CATEGORIES)
    )
    return CategoryList(categories=[row["category"] for row in rows])


def _product(row: dict[str, str]) -> Product:
    return Product(sku=row["sku"], name=row["name"], category=row["category"])
