"""Why a catalogue file is refused: each a stable ``code``, the row it is about in ``extra``
(``row``: the file's row as a spreadsheet numbers it, the header being row 1), so that the
console can say it in the admin's language. Nothing is written when one is raised."""

from __future__ import annotations

from backend.errors import DomainError, Unprocessable, ValidationFailed


class CatalogueNotCsv(
    DomainError,
    status=415,
    code="catalogue_not_csv",
    title="The catalogue must be sent as text/csv in UTF-8",
): ...


class CatalogueNotUtf8(
    ValidationFailed,
    code="catalogue_not_utf8",
    title="The catalogue file is not UTF-8 text",
): ...


class CatalogueHeaderWrong(
    ValidationFailed,
    code="catalogue_header_wrong",
    title="The catalogue file's first row must be sku,name,category",
): ...


class CatalogueRowBroken(
    ValidationFailed,
    code="catalogue_row_broken",
    title="A row of the catalogue file cannot be read as a product",
): ...


class CatalogueDuplicateSku(
    Unprocessable,
    code="catalogue_duplicate_sku",
    title="A SKU appears twice in the catalogue file",
): ...


class CatalogueTooLarge(
    DomainError,
    status=413,
    code="catalogue_too_large",
    title="The catalogue file is too large",
): ...


REFUSALS = (
    CatalogueNotCsv,
    CatalogueNotUtf8,
    CatalogueHeaderWrong,
    CatalogueRowBroken,
    CatalogueDuplicateSku,
    CatalogueTooLarge,
)
