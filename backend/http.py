"""HTTP helpers shared by the controllers: the request each kind of caller makes, strict bodies,
the idempotency headers and CSV downloads.

Strict bodies: Litestar converts bodies leniently (``"350"`` becomes ``350``, ``1.0``
becomes ``1``) because the same machinery converts query strings. An amount of money must
never be guessed, so write endpoints decode the raw body again, strictly, with msgspec. The
body is cached by the request, and decoding a small JSON document costs microseconds.

Before any of that, ``check_write_body`` (the app's ``before_request`` hook) looks at the
body of every write request: a route that takes a body gets only well-formed JSON (bytes
that are not UTF-8 and nesting past the decoder's depth are refused here, before Litestar's
own decoding could fail on them with a 500); a route that takes none refuses any body but
an empty one or ``{}``, which also holds it to the 64 KiB limit (413). Any body at all must
say it is JSON (``application/json`` or an ``application/*+json`` type, parameters such as
``charset`` ignored), or it is refused with 415 before anything is decoded: a form, a
multipart upload or a text/plain body (what ``fetch`` sends for a string body when no
``Content-Type`` is given) would otherwise be read as JSON by chance or refused with a
misleading 400. A request without a body needs no ``Content-Type``, since clients commonly
send none on a body-less POST. A route that reads and checks its raw body itself (the
signed webhook) says so with ``RAW_BODY`` and is skipped, media type included: a payment
provider's event is judged by its signature, and refusing it over a header would only make
the provider retry it.

Security headers: ``security_headers`` (the app's ``before_send`` hook, so it sees every
response, the router's 404s and the error handlers' answers included) adds what a browser
needs to treat an answer safely, where the route did not set it: no MIME sniffing, no
referrer, no framing, a content policy that loads nothing for anything but an HTML page
(the web pages set their own), and ``Cache-Control: no-store`` on every ``/v1/`` answer
(tokens, balances, API keys). There is no CORS: the web client is served from the same
origin, so no ``Access-Control-Allow-*`` header is ever sent and a preflight is refused.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import CacheControlHeader, MutableScopeHeaders
from litestar.exceptions import HTTPException
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.types import Message, Scope

from backend.auth.callers import MemberCaller, StaffCaller, TerminalCaller
from backend.errors import DomainError, ValidationFailed

T = TypeVar("T")

WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# In a route's ``opt``: it reads and checks its raw body itself (``check_write_body`` skips it).
RAW_BODY: Final = {"raw_body": True}

# In a route's ``opt``: the payment provider signs its webhooks (see orders.webhook_signature).
SIGNED: Final = {"signed": True}
ANSWERS_KEY: Final = "answers"

# The request a route takes, by who calls it: ``request.user`` is that caller.
AnyRequest = Request[Any, Any, Any]
MemberRequest = Request[MemberCaller, Any, Any]
StaffRequest = Request[StaffCaller, Any, Any]
TerminalRequest = Request[TerminalCaller, Any, Any]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    code: str
    title: str


def answers(*kinds: type[DomainError]) -> dict[str, Any]:
    """Route options: the domain errors a route's service raises beyond its shape's (the
    OpenAPI document lists them, ``backend.api_document``)."""
    return {ANSWERS_KEY: tuple(Answer(kind.status, kind.code, kind.title) for kind in kinds)}


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Required. Same key and body replays the stored response.",
        required=False,
    ),
]

# A uuid in the route's path (``/{member_id:uuid}``); the parameter's name says whose.
PathId = FromPath[uuid.UUID]

# The query parameter a list is paged with: the ``next_cursor`` of the page before it.
Cursor = Annotated[str | None, QueryParameter(max_length=64)]


# msgspec ends a validation error with where it is: "... - at `$.targeting.hours.from`".
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def decode_strict(raw: bytes, schema: Any, what: str = "the request body") -> Any:
    """``raw`` decoded strictly as ``schema``, or ``ValidationFailed`` saying why not (and
    naming the field, as ``targeting.hours.from`` or ``items[0].sku``, where there is one)."""
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        at = _AT_PATH.search(str(exc))
        named = {"field": at.group(1)} if at and at.group(1) else {}
        raise ValidationFailed(f"{what} is not valid: {exc}", **named) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ValidationFailed(f"{what} is nested too deeply") from exc


async def strict_body(request: AnyRequest, schema: type[T]) -> T:
    decoded: T = decode_strict(await request.body(), schema)
    return decoded


class _NoBody(msgspec.Struct, forbid_unknown_fields=True):
    pass


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, with any parameters."""
    if content_type is None:
        return False
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def check_write_body(request: AnyRequest) -> None:
    """The app's ``before_request`` hook; see the module's docstring."""
    handler = request.route_handler
    if request.method not in WRITE_METHODS or handler.opt.get("raw_body"):
        return
    raw = await request.body()  # over the limit: 413
    if raw and not is_json_media_type(request.headers.get("content-type")):
        raise HTTPException(
            status_code=415,
            detail="the request body must be JSON: send it with Content-Type: application/json",
        )
    if "data" in handler.parsed_fn_signature.parameters:
        decode_strict(raw, Any)  # well-formed; the handler decodes it against its type
    elif raw.strip():
        decode_strict(raw, _NoBody, what="the request body (this request takes none)")


def idempotent_answer(body: T, replayed: bool, status_code: int = 200) -> Response[T]:
    """An idempotent write's answer: ``Idempotent-Replayed: true`` says it is the one stored
    for its key (the same request sent again), not a new effect."""
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(body, status_code=status_code, headers=headers)


SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# For everything but an HTML page: JSON, SVG, problem documents load and embed nothing.
NOTHING_POLICY: Final = "default-src 'none'; frame-ancestors 'none'"


async def security_headers(message: Message, scope: Scope) -> None:
    """The app's ``before_send`` hook; see the module's docstring."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    html = (headers.get("content-type") or "").startswith("text/html")
    if not html and "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = NOTHING_POLICY
    if scope["path"].startswith("/v1/") and "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"


# A route's answer that no cache may keep (a token, a member's whole data).
NO_STORE: Final = CacheControlHeader(no_store=True)


def csv_download(text: str, name: str) -> Response[str]:
    """A report as a CSV file the browser saves as ``name``.csv."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def days_span(days: Sequence[Any]) -> str:
    """A report's days (each with its ``day``) as its CSV file names them: first-last."""
    return f"{days[0].day}-{days[-1].day}" if days else "none"


# A text cell a spreadsheet would run as a formula (CSV injection, OWASP): a name typed by
# staff such as "=HYPERLINK(...)" or "+7 ..." is written with a leading apostrophe, which
# spreadsheets show as text and ``unspreadsheet`` takes off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """``value`` as a CSV cell that opens as text; numbers and dates stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def unspreadsheet(cell: str) -> str:
    """The text ``spreadsheet_cell`` wrote, so that a file downloaded and uploaded again is
    the same file."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS):
        return cell[1:]
    return cell


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A report's rows as CSV (the standard library's quoting, formula-safe text cells)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_cell(value) for value in row] for row in rows)
    return out.getvalue()
