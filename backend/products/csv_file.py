"""The catalogue as a CSV file: ``sku,name,category``, UTF-8, one product a row.

Read and written with the standard library's ``csv`` module, not a library: it implements
the quoting spreadsheets use (a name with a comma or a quote in it, «Круассан, миндальный»),
ships with Python (nothing more to vet or update), and hands over plain rows, so every rule
below is ours and each refusal can name its row; a data-frame library would guess types and
bring far more than three text columns need.

A refusal names the row as a spreadsheet numbers it (the header is row 1). Surrounding
spaces of a field are dropped (spreadsheets pad them); a UTF-8 byte order mark (what Excel
writes) is allowed; blank rows are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Final

from backend.http import spreadsheet_cell, unspreadsheet
from backend.products.refusals import (
    CatalogueDuplicateSku,
    CatalogueHeaderWrong,
    CatalogueNotUtf8,
    CatalogueRowBroken,
    CatalogueTooLarge,
)
from backend.products.schemas import Product
from backend.text import LINE_PATTERN

HEADER: Final = ("sku", "name", "category")
MAX_BYTES: Final = 2 * 1024 * 1024
MAX_PRODUCTS: Final = 20_000
MAX_LENGTH: Final = 200  # as a sale's item fields (backend.sales.schemas.PurchaseItem)
_ONE_LINE = re.compile(LINE_PATTERN)


def read_catalogue(raw: bytes) -> list[Product]:
    """The products of a catalogue file, or the refusal of its first fault."""
    if len(raw) > MAX_BYTES:
        raise CatalogueTooLarge(
            f"the file has {len(raw)} bytes, at most {MAX_BYTES} are taken", max_bytes=MAX_BYTES
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogueNotUtf8(
            f"the file is not UTF-8 text (byte {exc.start} cannot be read); save it as 'CSV UTF-8'"
        ) from exc
    rows = _rows(text)
    _check_header(next(rows, (1, [])))
    products: list[Product] = []
    first_row_of: dict[str, int] = {}
    for number, fields in rows:
        if not fields:
            continue
        product = _product(number, fields)
        if product.sku in first_row_of:
            raise CatalogueDuplicateSku(
                f"row {number}: SKU {product.sku!r} is already on row {first_row_of[product.sku]}",
                row=number,
                sku=product.sku,
                first_row=first_row_of[product.sku],
            )
        first_row_of[product.sku] = number
        products.append(product)
        if len(products) > MAX_PRODUCTS:
            raise CatalogueTooLarge(
                f"row {number}: at most {MAX_PRODUCTS} products are taken",
                row=number,
                max_products=MAX_PRODUCTS,
            )
    return products


def write_catalogue(products: Iterable[Product]) -> str:
    """The catalogue as a file that ``read_catalogue`` takes back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(
        [
            spreadsheet_cell(product.sku),
            spreadsheet_cell(product.name),
            spreadsheet_cell(product.category),
        ]
        for product in products
    )
    return out.getvalue()


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) of each record; a malformed one (an unclosed quote) is refused."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    while True:
        number += 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CatalogueRowBroken(f"row {number}: {exc}", row=number) from exc
        yield number, fields


def _check_header(row: tuple[int, list[str]]) -> None:
    fields = [field.strip().lower() for field in row[1]]
    if tuple(fields) == HEADER:
        return
    hint = " (columns are separated by commas, not semicolons)" if ";" in "".join(fields) else ""
    raise CatalogueHeaderWrong(
        f"row 1 must be {','.join(HEADER)}, not {','.join(row[1])!r}{hint}", row=1
    )


def _product(number: int, fields: list[str]) -> Product:
    if len(fields) != len(HEADER):
        raise CatalogueRowBroken(
            f"row {number}: {len(fields)} fields, a product has {len(HEADER)} "
            f"({', '.join(HEADER)})",
            row=number,
        )
    values = [unspreadsheet(field.strip()) for field in fields]
    for column, value in zip(HEADER, values, strict=True):
        fault = (
            "is empty"
            if not value
            else f"is longer than {MAX_LENGTH} characters"
            if len(value) > MAX_LENGTH
            else "has a control or direction-changing character"
            if not _ONE_LINE.match(value)
            else None
        )
        if fault:
            raise CatalogueRowBroken(f"row {number}: {column} {fault}", row=number, column=column)
    sku, name, category = values
    return Product(sku=sku, name=name, category=category)
