from __future__ import annotations

import httpx


async def test_live_answers_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_checks_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "realtime": "ok"}


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live", headers={"X-Request-Id": "bad id\twith junk"})
    assert generated.headers["x-request-id"] != "bad id\twith junk"


async def test_unknown_path_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()


async def test_openapi_and_asyncapi_documents_are_served(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/schema/openapi.json")).json()
    for path in ("/v1/auth/otp", "/v1/auth/token", "/v1/me", "/v1/purchases", "/health/ready"):
        assert path in openapi["paths"]
    asyncapi = (await client.get("/asyncapi.json")).json()
    assert asyncapi["channels"]["events"]["address"] == "/v1/ws"
    assert "EventEnvelope" in asyncapi["components"]["schemas"]


async def test_the_openapi_document_lists_the_api_not_its_own_viewers(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/schema")]


async def test_the_web_pages_are_served_with_their_own_security_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/staff"):
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert b'<script type="module" src="/static/js/' in page.content
    script = await client.get("/static/js/member.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
