"""``/schema``: the API reference (Swagger UI), every file of it served by the app itself.

Litestar's default pages load their viewer from a CDN (and its favicon from GitHub, Redoc
its fonts from Google), so the reference did not render without the internet or behind a
policy that forbids third-party scripts. Swagger UI's own files come from the
``swagger-ui-py`` package (pinned like every dependency) and are served under
``/schema/assets/``; the page is written here, not by Litestar's template, so that it holds
no inline script or style: Litestar's puts the whole document and the start-up call in an
inline ``<script>``, which a content policy could only allow by a hash of the document that
changes with every route. Ours starts Swagger UI from ``/static/js/schema.js``, which reads
the document from ``/schema/openapi.json``, and the page's policy allows nothing but this
origin (and ``data:`` images, which Swagger UI's stylesheet uses for its icons).
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from backend.auth.access import allow
from backend.auth.callers import Role

SCHEMA_PATH: Final = "/schema"
ASSETS_PATH: Final = "/assets"  # under SCHEMA_PATH
# Found without importing the package (it has no type information; only its files are used).
SWAGGER_FILES: Final = Path(str(files("swagger_ui").joinpath("static")))
# What the page loads; the package's other files (Swagger Editor, source maps, an OAuth2
# redirect page with an inline script) are not served.
SERVED: Final = frozenset(
    {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "index.css"}
)
START_SCRIPT: Final = "/static/js/schema.js"  # ours, with the web client's files
FAVICON: Final = "/static/favicon.svg"
# For every answer under /schema (Litestar's handlers there take no headers of their own):
# the page runs files of this origin only; its stylesheet draws icons from data: URLs.
PAGE_POLICY: Final = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
SCHEMA_HEADERS: Final = {"Content-Security-Policy": PAGE_POLICY}


async def _served_files_only(request: Request[Any, Any, Any]) -> None:
    if str(request.path_params.get("file_path", "")).lstrip("/") not in SERVED:
        raise NotFoundException()


class SchemaViewer(SwaggerRenderPlugin):
    """Swagger UI at ``/schema`` and ``/schema/swagger``, from this origin only."""

    def __init__(self) -> None:
        assets = SCHEMA_PATH + ASSETS_PATH
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f'<link rel="icon" href="{FAVICON}" type="image/svg+xml">',
            style=f'<link rel="stylesheet" href="{assets}/index.css">',
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        document = escape(self.get_openapi_json_route(request))
        page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{self.favicon}
<link rel="stylesheet" href="{self.css_url}">
{self.style}
<script src="{self.js_url}" defer></script>
<script src="{self.standalone_preset_js_url}" defer></script>
<script src="{START_SCRIPT}" type="module"></script>
</head>
<body>
<div id="swagger-ui" data-document="{document}"></div>
</body>
</html>
"""
        return page.encode()

    def receive_router(self, router: Router) -> None:
        # Not Swagger UI's OAuth2 redirect page that the base class adds: no OAuth2 here.
        if router.path != SCHEMA_PATH:
            raise ValueError(f"the schema viewer expects its router at {SCHEMA_PATH}")
        router.register(
            create_static_files_router(
                path=ASSETS_PATH,
                directories=[SWAGGER_FILES],
                name="schema-assets",
                before_request=_served_files_only,
                opt=allow(Role.ANONYMOUS),
                include_in_schema=False,
                # Versioned with the pinned package, not by URL: an hour, like /static.
                cache_control=CacheControlHeader(max_age=3600),
            )
        )
