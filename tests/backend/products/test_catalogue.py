"""The product catalogue over HTTP: an admin's CSV file replaces it whole or, refused, changes
nothing; managers read it back as pages, categories and the same file."""

from __future__ import annotations

import httpx
import pytest

from backend.products.csv_file import MAX_BYTES
from tests.factories import SignedInStaff, assert_problem, hire, open_till

CSV = {"Content-Type": "text/csv; charset=utf-8"}
CATALOGUE = (
    "sku,name,category\n"
    'CRO-1,"Круассан, классический",выпечка\n'
    "CRO-2,Круассан миндальный,выпечка\n"
    "CAP-M,Капучино 300 мл,кофе\n"
)


async def upload(
    client: httpx.AsyncClient, admin: SignedInStaff, body: str | bytes
) -> httpx.Response:
    return await client.put(
        "/v1/admin/catalogue",
        content=body.encode() if isinstance(body, str) else body,
        headers={**admin.headers, **CSV},
    )


async def test_an_upload_replaces_the_catalogue_and_reads_back(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    manager = await hire(client, "manager", [(await open_till()).store_id])
    first = await upload(client, admin, "sku,name,category\nOLD-1,Старый товар,прочее\n")
    assert first.json() == {"products": 1, "categories": 1, "replaced": 0}

    answer = await upload(client, admin, "\ufeff" + CATALOGUE)  # Excel's byte order mark

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"products": 3, "categories": 2, "replaced": 1}
    page = (await client.get("/v1/admin/catalogue?limit=2", headers=manager.headers)).json()
    assert [item["sku"] for item in page["items"]] == ["CAP-M", "CRO-1"]
    assert page["items"][1]["name"] == "Круассан, классический"
    assert page["total"] == 3
    rest = await client.get(
        f"/v1/admin/catalogue?limit=2&cursor={page['next_cursor']}", headers=manager.headers
    )
    assert [item["sku"] for item in rest.json()["items"]] == ["CRO-2"]
    assert rest.json()["next_cursor"] is None
    categories = await client.get("/v1/admin/catalogue/categories", headers=manager.headers)
    assert categories.json() == {"categories": ["выпечка", "кофе"]}
    download = await client.get("/v1/admin/catalogue.csv", headers=manager.headers)
    assert download.headers["content-type"].startswith("text/csv")
    assert download.text.splitlines() == [
        "sku,name,category",
        "CAP-M,Капучино 300 мл,кофе",
        'CRO-1,"Круассан, классический",выпечка',
        "CRO-2,Круассан миндальный,выпечка",
    ]
    assert (await upload(client, admin, download.text)).json()["products"] == 3  # round trip
    trail = await client.get(
        "/v1/admin/audit?action=catalogue.replaced&limit=10", headers=admin.headers
    )
    entries = trail.json()["items"]
    assert [entry["after"]["products"] for entry in entries] == [3, 3, 1]
    assert entries[-1]["staff_id"] == admin.staff_id


@pytest.mark.parametrize(
    ("body", "status", "code", "row"),
    [
        (CATALOGUE + "CRO-2,Круассан ещё раз,выпечка\n", 422, "catalogue_duplicate_sku", 5),
        (CATALOGUE + "CAP-L,Капучино 400 мл\n", 400, "catalogue_row_broken", 5),
        (CATALOGUE + " ,Безымянный,кофе\n", 400, "catalogue_row_broken", 5),
        (CATALOGUE + f"LONG,{'я' * 201},кофе\n", 400, "catalogue_row_broken", 5),
        (CATALOGUE + 'Q,"Незакрытая кавычка,кофе\n', 400, "catalogue_row_broken", 5),
        ("артикул,название,категория\nCRO-1,Круассан,выпечка\n", 400, "catalogue_header_wrong", 1),
        ("sku;name;category\nCRO-1;Круассан;выпечка\n", 400, "catalogue_header_wrong", 1),
        ("", 400, "catalogue_header_wrong", 1),
        (CATALOGUE.encode("cp1251"), 400, "catalogue_not_utf8", None),
        (b"sku,name,category\n" + b"X" * MAX_BYTES, 413, "catalogue_too_large", None),
    ],
)
async def test_a_refused_file_changes_nothing_and_names_its_row(
    client: httpx.AsyncClient, body: str | bytes, status: int, code: str, row: int | None
) -> None:
    admin = await hire(client, "admin")
    assert (await upload(client, admin, CATALOGUE)).status_code == 200

    answer = await upload(client, admin, body)

    assert_problem(answer, status, code)
    if row is not None:
        assert answer.json()["extra"]["row"] == row
        assert f"row {row}" in answer.json()["detail"]
    download = await client.get("/v1/admin/catalogue.csv", headers=admin.headers)
    assert download.text.count("\n") == 4  # the catalogue before, whole
    trail = await client.get("/v1/admin/audit?action=catalogue.replaced", headers=admin.headers)
    assert len(trail.json()["items"]) == 1


async def test_a_file_that_is_not_csv_is_refused(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    for content_type in ("application/json", "text/csv; charset=windows-1251", None):
        headers = {**admin.headers, **({"Content-Type": content_type} if content_type else {})}
        answer = await client.put("/v1/admin/catalogue", content=CATALOGUE, headers=headers)
        assert_problem(answer, 415, "catalogue_not_csv")
    page = await client.get("/v1/admin/catalogue", headers=admin.headers)
    assert page.json() == {"items": [], "next_cursor": None, "total": 0}


async def test_the_api_document_says_the_upload_is_a_csv_file(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    upload = document["paths"]["/v1/admin/catalogue"]["put"]
    assert list(upload["requestBody"]["content"]) == ["text/csv"]
    answers = {
        code
        for response in upload["responses"].values()
        for code in response.get("content", {})
        .get("application/problem+json", {})
        .get("schema", {})
        .get("properties", {})
        .get("code", {})
        .get("enum", [])
    }
    assert {"catalogue_duplicate_sku", "catalogue_row_broken", "catalogue_too_large"} <= answers


async def test_a_name_a_spreadsheet_would_run_downloads_as_text_and_uploads_back_the_same(
    client: httpx.AsyncClient,
) -> None:
    admin = await hire(client, "admin")
    file = (
        "sku,name,category\n"
        'EVIL,"=HYPERLINK(""http://example.invalid"",""Скидка"")",прочее\n'
        "SALE,-20% на выпечку,@акции\n"
    )
    assert (await upload(client, admin, file)).status_code == 200

    download = await client.get("/v1/admin/catalogue.csv", headers=admin.headers)

    # The apostrophe makes a spreadsheet show the cell as text instead of running it.
    assert download.text.splitlines()[1:] == [
        'EVIL,"\'=HYPERLINK(""http://example.invalid"",""Скидка"")",прочее',
        "SALE,'-20% на выпечку,'@акции",
    ]
    before = (await client.get("/v1/admin/catalogue", headers=admin.headers)).json()["items"]
    assert (await upload(client, admin, download.text)).status_code == 200
    after = (await client.get("/v1/admin/catalogue", headers=admin.headers)).json()["items"]
    assert after == before
    assert [item["name"] for item in after] == [
        '=HYPERLINK("http://example.invalid","Скидка")',
        "-20% на выпечку",
    ]
