"""Serve the web client: two HTML pages and their static files (plain ES modules, no build).

Everything is public (the pages hold no data; they call the API with the caller's token).
Files are read once at start; ``Cache-Control`` lets browsers keep assets for an hour.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from backend.auth.access import allow
from backend.auth.callers import Role

STATIC = Path(__file__).parent / "static"
PUBLIC = allow(Role.ANONYMOUS)
# Also without nginx in front: scripts and styles only from files of ours, nothing inline.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def web_routes() -> Router:
    member_page = _page("index.html")
    staff_page = _page("staff.html")

    @get("/", opt=PUBLIC, include_in_schema=False, media_type="text/html")
    async def member_web() -> Response[bytes]:
        return Response(member_page, media_type="text/html", headers=PAGE_HEADERS)

    @get("/staff", opt=PUBLIC, include_in_schema=False, media_type="text/html")
    async def staff_web() -> Response[bytes]:
        return Response(staff_page, media_type="text/html", headers=PAGE_HEADERS)

    assets = create_static_files_router(
        path="/static",
        directories=[STATIC],
        opt=PUBLIC,
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600),
    )
    return Router(path="/", route_handlers=[member_web, staff_web, assets])
