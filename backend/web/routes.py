"""Serve the web client: the member page, the staff console's pages and their static files
(plain ES modules, no build).

Everything is public (the pages hold no data; they call the API with the caller's token).
Files are read once at start; ``Cache-Control`` lets browsers keep assets for an hour.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

from backend.auth.access import PUBLIC

STATIC = Path(__file__).parent / "static"
# Also without nginx in front: scripts and styles only from files of ours, nothing inline.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# The console's pages beside the dashboard (/staff): /staff/<name> is console/<name>.html in
# the console's shell (console/shell.html: head, top bar, navigation), so no page repeats it;
# its script is js/console/<name>.js.
CONSOLE_PAGES = (
    "rules",
    "people",
    "reconciliation",
    "dead-letters",
    "member",
    "reports",
    "catalogue",
)


def served_page(name: str) -> str:
    """static/<name> as served: its ``{head}`` is the start every page shares (the doctype and
    the head's first elements, partials/head.html), so no page repeats it."""
    head = (STATIC / "partials" / "head.html").read_text(encoding="utf-8").rstrip("\n")
    return (STATIC / name).read_text(encoding="utf-8").replace("{head}", head)


def console_page(name: str) -> bytes:
    shell = served_page("console/shell.html")
    body = (STATIC / "console" / f"{name}.html").read_text(encoding="utf-8")
    return shell.replace("{name}", name).replace("{body}", body).encode()


def web_routes() -> Router:
    member_page = served_page("index.html").encode()
    staff_page = served_page("staff.html").encode()
    console_pages = {name: console_page(name) for name in CONSOLE_PAGES}

    @get("/", opt=PUBLIC, include_in_schema=False, media_type="text/html")
    async def member_web() -> Response[bytes]:
        return Response(member_page, media_type="text/html", headers=PAGE_HEADERS)

    @get("/staff", opt=PUBLIC, include_in_schema=False, media_type="text/html")
    async def staff_web() -> Response[bytes]:
        return Response(staff_page, media_type="text/html", headers=PAGE_HEADERS)

    @get("/staff/{name:str}", opt=PUBLIC, include_in_schema=False, media_type="text/html")
    async def console_web(name: FromPath[str]) -> Response[bytes]:
        page = console_pages.get(name)
        if page is None:
            raise NotFoundException(f"no console page {name!r}")
        return Response(page, media_type="text/html", headers=PAGE_HEADERS)

    service_worker = (STATIC / "sw.js").read_bytes()

    # At the root, so that its scope is the whole site (a worker's scope is at most its own
    # folder); revalidated on every load, so a new version reaches browsers at once.
    @get("/sw.js", opt=PUBLIC, include_in_schema=False, media_type="text/javascript")
    async def member_service_worker() -> Response[bytes]:
        return Response(
            service_worker,
            media_type="text/javascript",
            headers={**PAGE_HEADERS, "Cache-Control": "no-cache"},
        )

    assets = create_static_files_router(
        path="/static",
        directories=[STATIC],
        opt=PUBLIC,
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600),
    )
    return Router(
        path="/",
        route_handlers=[member_web, staff_web, console_web, member_service_worker, assets],
    )
