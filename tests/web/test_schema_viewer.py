"""``/schema`` renders from this origin alone: every file its page names is served by the app
with the right type, its policy allows nothing else, and a browser that may reach nothing
but the test server shows the operations."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Request, Route, expect

from backend.web.schema_viewer import PAGE_POLICY
from tests.conftest import LiveServer
from tests.web.conftest import DESKTOP

TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
    ".json": ("application/vnd.oai.openapi+json", "application/json"),
}


def references(page: str) -> list[str]:
    """Every URL the page names: src, href and the viewer's document."""
    return re.findall(r'\b(?:src|href|data-document)="([^"]*)"', page)


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_page_names_only_files_of_this_origin_and_each_is_served(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == PAGE_POLICY
    urls = references(page.text)
    assert len(urls) >= 6, urls  # 3 scripts, 2 stylesheets, the icon, the document
    assert "http" not in page.text.lower()  # no other host named anywhere, fonts included
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "an inline script"
    assert "<style" not in page.text and "style=" not in page.text, "an inline style"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        served = await client.get(urljoin(str(page.url), url))
        assert served.status_code == 200, url
        suffix = re.search(r"\.[a-z]+$", urlsplit(url).path)
        assert suffix is not None, url
        assert served.headers["content-type"].split(";")[0] in TYPES[suffix.group()], url
        assert len(served.content) > 100, url


@pytest.mark.parametrize(
    "name",
    [
        "swagger-editor-bundle.js",  # in the package, not used by the page
        "oauth2-redirect.html",  # an inline script, and no OAuth2 here
        "swagger-ui.js.map",
        "../core.py",
        "%2e%2e/core.py",
    ],
)
async def test_only_the_files_the_page_uses_are_served(
    client: httpx.AsyncClient, name: str
) -> None:
    assert (await client.get(f"/schema/assets/{name}")).status_code == 404


async def test_the_page_renders_the_operations_with_no_other_host_reachable(
    browser: Browser, live_server: LiveServer
) -> None:
    local = urlsplit(live_server.base_url).netloc
    elsewhere: list[str] = []
    problems: list[str] = []

    async def only_local(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == local:
            await route.continue_()
        else:
            elsewhere.append(request.url)
            await route.abort()

    context = await browser.new_context(viewport=DESKTOP)
    try:
        await context.route("**/*", only_local)
        page = await context.new_page()
        page.on(
            "console",
            lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        await page.goto(f"{live_server.base_url}/schema")
        purchases = page.locator(".opblock-post", has_text="/v1/purchases").first
        await expect(purchases).to_be_visible(timeout=15_000)
        await expect(page.locator(".opblock").first).to_be_visible()
        assert await page.locator(".opblock").count() > 20
        await expect(page.locator(".information-container .title")).to_contain_text(
            "Astrocoffee loyalty API"
        )
        # An operation opens (Swagger UI's own scripts work under the page's policy).
        await purchases.locator(".opblock-summary").click()
        await expect(page.locator(".opblock.is-open").first).to_be_visible()
    finally:
        await context.close()
    assert elsewhere == [], "requests to other hosts"
    assert problems == [], "the page logged errors (a refused file or script shows here)"
