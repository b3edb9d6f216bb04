"""HTTP for the product catalogue: an admin replaces it with a CSV file; managers and admins
read it as JSON pages, as its categories, or as the same CSV file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.exceptions import HTTPException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import QueryParameter

from backend.auth.access import ADMINS, MANAGERS
from backend.http import RAW_BODY, AnyRequest, answers, csv_download
from backend.products import service
from backend.products.csv_file import MAX_BYTES, MAX_LENGTH, read_catalogue, write_catalogue
from backend.products.refusals import REFUSALS, CatalogueNotCsv, CatalogueTooLarge
from backend.products.schemas import CatalogueReplaced, CategoryList, ProductPage

Limit = Annotated[int, QueryParameter(ge=1, le=service.PAGE_MAX)]
Cursor = Annotated[str | None, QueryParameter(max_length=MAX_LENGTH)]


@dataclass
class _UploadOperation(Operation):
    """The upload's body in the OpenAPI document: the handler reads it raw, so Litestar
    cannot tell (a client generated from the document sends the file as text/csv)."""

    def __post_init__(self) -> None:
        csv_file = Schema(
            type=OpenAPIType.STRING,
            description="sku,name,category, then one product a row (UTF-8)",
            max_length=MAX_BYTES,
        )
        self.request_body = RequestBody(
            content={"text/csv": OpenAPIMediaType(schema=csv_file)}, required=True
        )


def _is_csv(content_type: str | None) -> bool:
    """``text/csv``, in UTF-8 if it names a charset."""
    kind, *parameters = (content_type or "").lower().split(";")
    charsets = [p.strip()[8:].strip('"') for p in parameters if p.strip().startswith("charset=")]
    return kind.strip() == "text/csv" and all(c in {"utf-8", "utf8"} for c in charsets)


async def _file(request: AnyRequest) -> bytes:
    if not _is_csv(request.headers.get("content-type")):
        raise CatalogueNotCsv("send the catalogue with Content-Type: text/csv; charset=utf-8")
    try:
        return await request.body()
    except HTTPException as exc:  # over the route's body limit
        if exc.status_code != 413:
            raise
        raise CatalogueTooLarge(f"the file is over {MAX_BYTES} bytes", max_bytes=MAX_BYTES) from exc


class AdminCatalogueController(Controller):
    path = "/v1/admin"
    tags = ["admin"]

    @put(
        "/catalogue",
        opt=ADMINS | RAW_BODY | answers(*REFUSALS),
        # The file's own limit (csv_file.MAX_BYTES) answers, not the app's 64 KiB.
        request_max_body_size=MAX_BYTES + 1,
        operation_class=_UploadOperation,
        summary="Replace the whole catalogue with a CSV file (text/csv, UTF-8, header "
        "sku,name,category); a refused file changes nothing",
    )
    async def replace(self, request: AnyRequest) -> CatalogueReplaced:
        raw = await _file(request)
        return await service.replace_catalogue(read_catalogue(raw), size_bytes=len(raw))

    @get(
        "/catalogue",
        opt=MANAGERS,
        summary="The catalogue's products in SKU order, a page at a time",
    )
    async def products(self, limit: Limit = 100, cursor: Cursor = None) -> ProductPage:
        return await service.product_page(limit=limit, cursor=cursor)

    @get(
        "/catalogue/categories",
        opt=MANAGERS,
        summary="The catalogue's categories (the builder's choices)",
    )
    async def categories(self) -> CategoryList:
        return await service.categories()

    @get(
        "/catalogue.csv",
        opt=MANAGERS,
        summary="The whole catalogue as the CSV file an upload takes",
        media_type="text/csv",
    )
    async def download(self) -> Response[str]:
        return csv_download(write_catalogue(await service.all_products()), "catalogue")
