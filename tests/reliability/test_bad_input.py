"""Bad input at every write endpoint and at the WebSocket: a clear 4xx, never a write.

Every POST, PUT, PATCH and DELETE route of the app (walked from its router, so a new write
route without a row in ``endpoints`` fails here) is called, as a caller allowed to call it,
with a corpus of bad requests built from the route's own body type (``msgspec.inspect``):
for each field at every depth a wrong type, its absence when required, values past its
bounds (negative, 2**63, 1e309, too long), NUL, a right-to-left override, a lone surrogate
and bytes that are not UTF-8; for each object an unknown field; for the whole body
malformed JSON, other JSON values, deep nesting, and more than the 64 KiB limit (413). Each
route adds the ids of other callers' objects (another store's purchase, another member's
session...), a currency other than the store's where money is named, and, where an
Idempotency-Key is taken, a missing or malformed key and a key replayed with another body.

Each case must be answered with a 4xx ``application/problem+json`` (401/403 only where the
input is the credential, or names what the caller may not touch), and must leave every
table as it was: row counts and contents are compared before and after. Each route's valid
request is sent last and must succeed, so the corpus is known to be refused for what was
bad in it, not for something else.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import msgspec.inspect as mi
import pytest
import websockets
from litestar.routes import HTTPRoute
from websockets.exceptions import ConnectionClosed

from backend.loyalty.rules import DEFAULT_RULES
from backend.orders.webhook_signature import sign
from backend.orders.webhooks import ProviderEvent
from backend.stores.folding import fold_committed_sales
from db.tables import ALL_TABLES, OutboxMessage, PartnerDelivery, PushDelivery
from realtime.publisher import EventPublisher
from tests.backend.push.samples import web_push_subscription
from tests.conftest import LiveServer, Shop
from tests.factories import (
    STAFF_PASSWORD,
    LoggedInMember,
    another_till,
    buy,
    grant,
    hire,
    log_in,
    open_till,
    purchase_body,
    unique_phone,
)
from tests.servers import RunServers

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_BODY = 64 * 1024
TOO_LONG = 60_000  # a string for a field without max_length (the body stays under 64 KiB)

# --- the corpus, built from a body type and one valid body --------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text put in place as it is (what ``json.dumps`` cannot write)."""

    text: bytes


@dataclass
class Case:
    name: str
    body: bytes | None = None  # None: no body at all
    params: dict[str, str] = field(default_factory=dict)  # path parameters changed
    headers: dict[str, str] = field(default_factory=dict)
    key: str | None = "fresh"  # Idempotency-Key: "fresh", a given one, or None (left out)
    status: int | None = None  # the one status it must get, where only one will do
    code: str | None = None  # the problem code it must get, where only one will do
    foreign: bool = False  # names another caller's object: 403 and 404 are its refusals


def encode(document: Any) -> bytes:
    """JSON of ``document`` with every ``Raw`` value spliced in as it is."""
    raws: dict[str, bytes] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            token = f"@@raw{len(raws)}@@"
            raws[json.dumps(token)] = value.text
            return token
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(document)).encode()
    for token, raw in raws.items():
        text = text.replace(token.encode(), raw)
    return text


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    *parents, last = path
    target = changed
    for step in parents:
        target = target[step]
    target[last] = value
    return changed


def removed(document: Any, path: tuple[Any, ...]) -> Any:
    changed = copy.deepcopy(document)
    *parents, last = path
    target = changed
    for step in parents:
        target = target[step]
    del target[last]
    return changed


def unwrap(kind: Any) -> Any:
    while isinstance(kind, mi.Metadata):
        kind = kind.type
    return kind


def insert(value: str, char: str) -> str:
    return value[:1] + char + value[1:]


# (what, bad value) for the types whose cases are the same whatever the valid value is.
FIXED_VALUE_CASES: dict[type, list[tuple[str, Any]]] = {
    mi.BoolType: [("a string for a boolean", "true"), ("a number for a boolean", 1)],
    mi.DateType: [
        ("30 February", "2026-02-30"),
        ("a date in another format", "30.01.2026"),
        ("a number for a date", 20260130),
        ("a year past 9999", "10000-01-01"),
    ],
    mi.DateTimeType: [
        ("30 February", "2026-02-30T10:00:00Z"),
        ("no time zone", "2030-01-01T10:00:00"),
        ("past the end of time in UTC", "9999-12-31T23:00:00-12:00"),
        ("before the start of time in UTC", "0001-01-01T01:00:00+12:00"),
        ("a number for a time", 1767225600),
    ],
    mi.LiteralType: [("not one of the choices", "no-such-choice"), ("a number for a choice", 1)],
}
# A wall-clock time (read in a zone named beside it) is the other way round: no offset.
WALL_CLOCK_CASES = [
    ("30 February", "2026-02-30T10:00:00"),
    ("an offset on a wall-clock time", "2030-01-01T10:00:00+03:00"),
    ("a year past 9999", "10000-01-01T10:00:00"),
    ("a number for a time", 1767225600),
]


def value_cases(kind: Any, value: Any) -> Iterator[tuple[str, Any]]:
    """(what, bad value) for a field of type ``kind`` whose valid value is ``value``."""
    kind = unwrap(kind)
    if isinstance(kind, mi.UnionType):
        members = [unwrap(k) for k in kind.types if not isinstance(unwrap(k), mi.NoneType)]
        structs = [k for k in members if isinstance(k, mi.StructType)]
        if structs and isinstance(value, dict) and structs[0].tag_field is not None:
            tag_field = structs[0].tag_field
            yield "an unknown kind", {**value, tag_field: "no-such-kind"}
            chosen = [k for k in structs if k.tag == value.get(tag_field)]
            members = chosen[:1]
        for member in members:
            if _accepts(member, value):
                yield from value_cases(member, value)
                return
        return
    if isinstance(kind, mi.StructType):
        yield "a list for an object", [value]
        return  # its fields: see struct_cases
    if isinstance(kind, mi.ListType):
        yield "an object for a list", {"0": value[0] if value else 1}
        if kind.max_length is not None and value:
            yield "one item too many", [value[0]] * (kind.max_length + 1)
        return
    if isinstance(kind, mi.DictType):
        yield "a list for an object", [value]
        first = next(iter(value.values()), 1) if isinstance(value, dict) else 1
        yield "a NUL in a key", {**value, "k\x00": first}
        yield "a lone surrogate in a key", Raw(b'{"\\udc00": 1}')
        return
    if isinstance(kind, mi.IntType):
        yield "a string for a number", str(value)
        yield "a fraction", value + 0.5
        yield "a boolean for a number", True
        low = kind.ge if kind.ge is not None else (kind.gt + 1 if kind.gt is not None else None)
        high = kind.le if kind.le is not None else (kind.lt - 1 if kind.lt is not None else None)
        if low is None or low >= 0:
            yield "a negative number", -1 if low is None or low == 0 else -low
        if low is not None and low != 0:
            yield "below the minimum", low - 1
        if high is not None and high < 2**63:
            yield "above the maximum", high + 1
        yield "2**63", 2**63
        yield "-2**63 - 1", -(2**63) - 1
        yield "2**64 + 1", 2**64 + 1
        yield "1e309", Raw(b"1e309")
        return
    if isinstance(kind, mi.FloatType):
        yield "a string for a number", str(value)
        yield "1e309", Raw(b"1e309")
        yield "-1e309", Raw(b"-1e309")
        yield "2**63", 2**63
        if kind.le is not None:
            yield "above the maximum", kind.le + 1
        if kind.gt is not None:
            yield "at the exclusive minimum", kind.gt
        return
    if isinstance(kind, mi.StrType):
        yield from string_cases(value, kind.max_length, kind.min_length)
        return
    if isinstance(kind, mi.UUIDType):
        yield "not a UUID", "not-a-uuid"
        yield "a number for a UUID", 12345
        yield "a NUL in a UUID", insert(str(value), "\x00")
        return
    if isinstance(kind, mi.DateTimeType) and kind.tz is False:
        yield from WALL_CLOCK_CASES
        return
    for kind_type, cases in FIXED_VALUE_CASES.items():
        if isinstance(kind, kind_type):
            yield from cases
            return
    if isinstance(kind, mi.AnyType):
        # Free-form data (a provider's event): what no JSON store can keep, or no parser read.
        yield "a NUL in a free-form string", "pay\x00x"
        yield "a lone surrogate in free-form data", Raw(b'"\\ud800"')
        yield "bytes that are not UTF-8 in free-form data", Raw(b'"\xff\xfe"')
        yield "free-form data nested 20,000 deep", Raw(b"[" * 20_000 + b"]" * 20_000)
        return
    raise AssertionError(f"the corpus has no cases for {kind!r}: add them")


def string_cases(
    value: Any, max_length: int | None, min_length: int | None
) -> Iterator[tuple[str, Any]]:
    text = value if isinstance(value, str) else "x"
    yield "a number for a string", 12345
    yield "a NUL", insert(text, "\x00")
    yield "a right-to-left override", insert(text, "\u202e")
    yield "a right-to-left mark", insert(text, "\u200f")
    yield "a control character", insert(text, "\x1b")
    yield "a lone surrogate", Raw(b'"' + insert(text, "\\udc00").encode() + b'"')
    yield "bytes that are not UTF-8", Raw(b'"' + insert(text, "\xff").encode("latin-1") + b'"')
    yield "too long", "x" * (max_length + 1 if max_length is not None else TOO_LONG)
    if min_length:
        yield "too short", ""


def _accepts(kind: Any, value: Any) -> bool:
    kind = unwrap(kind)
    checks: dict[type, Any] = {
        mi.StructType: dict,
        mi.DictType: dict,
        mi.ListType: list,
        mi.StrType: str,
        mi.UUIDType: str,
        mi.DateType: str,
        mi.DateTimeType: str,
        mi.LiteralType: (str, int),
        mi.BoolType: bool,
        mi.FloatType: (int, float),
    }
    if isinstance(kind, mi.IntType):
        return isinstance(value, int) and not isinstance(value, bool)
    for kind_type, python in checks.items():
        if isinstance(kind, kind_type):
            return isinstance(value, python)
    return True


def struct_of(kind: Any, value: Any) -> mi.StructType | None:
    """The struct type of ``value`` (a tagged union's member chosen by its tag)."""
    kind = unwrap(kind)
    if isinstance(kind, mi.StructType):
        return kind
    if isinstance(kind, mi.UnionType) and isinstance(value, dict):
        for member in map(unwrap, kind.types):
            if not isinstance(member, mi.StructType):
                continue
            if member.tag_field is None or value.get(member.tag_field) == member.tag:
                return member
    return None


def item_of(kind: Any) -> Any:
    kind = unwrap(kind)
    if isinstance(kind, mi.UnionType):
        for member in map(unwrap, kind.types):
            if isinstance(member, mi.ListType | mi.DictType):
                return member
    return kind


def field_cases(kind: Any, document: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every bad variant of ``document`` (valid for ``kind``), with where and what."""
    value = document if not path else _at(document, path)
    where = ".".join(str(p) for p in path) or "body"
    if path:
        for what, bad in value_cases(kind, value):
            yield f"{where}: {what}", replaced(document, path, bad)
    struct = struct_of(kind, value)
    if struct is not None:
        yield f"{where}: an unknown field", replaced_or_whole(document, path, {**value, "x": 1})
        for f in struct.fields:
            if f.encode_name == struct.tag_field:
                continue
            child = (*path, f.encode_name)
            if f.encode_name not in value:
                continue
            if f.required:
                yield f"{where}: {f.encode_name} missing", removed(document, child)
            yield from field_cases(f.type, document, child)
        return
    container = item_of(kind)
    if isinstance(container, mi.ListType) and isinstance(value, list) and value:
        yield from field_cases(container.item_type, document, (*path, 0))
    elif isinstance(container, mi.DictType) and isinstance(value, dict) and value:
        yield from field_cases(container.value_type, document, (*path, next(iter(value))))


def replaced_or_whole(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    return value if not path else replaced(document, path, value)


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def body_cases(kind: Any, body: dict[str, Any]) -> Iterator[Case]:
    """The whole-body cases, then every field's."""
    valid = encode(body)
    wholes = [
        ("malformed JSON (cut short)", valid[:-1]),
        ("not JSON at all", b"amount=1&currency=RUB"),
        ("an empty body", b""),
        ("null", b"null"),
        ("a list", b"[]"),
        ("a string", b'"body"'),
        ("a number", b"1"),
        ("a NUL byte", b"\x00"),
        ("bytes that are not UTF-8 before the JSON", b"\xff" + valid),
        ("a lone surrogate in a key", b'{"\\ud800": 1}'),
        ("nested 20,000 deep in a field", b'{"x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"),
        ("nested 30,000 deep", b"[" * 30_000 + b"]" * 30_000),
    ]
    yield from (Case(name, raw) for name, raw in wholes)
    yield Case("over 64 KiB", encode({**body, "padding": "x" * MAX_BODY}), status=413)
    for name, document in field_cases(kind, body):
        yield Case(name, encode(document))


CATALOGUE = "sku,name,category\nCRO-1,Круассан,выпечка\nCAP-M,Капучино,кофе\n".encode()


def catalogue_cases() -> list[Case]:
    """Bad catalogue files (``backend.products.csv_file``): each names its fault's code."""
    rows = CATALOGUE.decode()
    broken = "catalogue_row_broken"
    return [
        Case(
            "a duplicate SKU",
            (rows + "CRO-1,Круассан,выпечка\n").encode(),
            code="catalogue_duplicate_sku",
        ),
        Case("a row of two fields", (rows + "X,Икс\n").encode(), code=broken),
        Case("an empty SKU", (rows + ",Икс,прочее\n").encode(), code=broken),
        Case("a name too long", (rows + f"X,{'я' * 201},прочее\n").encode(), code=broken),
        Case("a NUL in a name", (rows + "X,Ча\x00й,прочее\n").encode(), code=broken),
        Case("an unclosed quote", (rows + 'X,"Икс,прочее\n').encode(), code=broken),
        Case("a wrong header", b"sku;name;category\n", code="catalogue_header_wrong"),
        Case("an empty file", b"", code="catalogue_header_wrong"),
        Case("not UTF-8", rows.encode("cp1251"), code="catalogue_not_utf8"),
        Case(
            "JSON",
            b'{"sku": "X"}',
            headers={"Content-Type": "application/json"},
            code="catalogue_not_csv",
        ),
        Case("over 2 MiB", CATALOGUE + b"x" * 2**21, status=413, code="catalogue_too_large"),
    ]


def no_body_cases() -> Iterator[Case]:
    """For routes that take no body: any body but none (or ``{}``) is refused."""
    for name, raw in [
        ("malformed JSON", b'{"x": '),
        ("a field where none is taken", b'{"x": 1}'),
        ("a list", b"[]"),
        ("a string", b'"body"'),
        ("a NUL byte", b"\x00"),
        ("bytes that are not UTF-8", b"\xff\xfe"),
        ("nested 30,000 deep", b"[" * 30_000 + b"]" * 30_000),
    ]:
        yield Case(name, raw)
    yield Case("over 64 KiB", encode({"padding": "x" * MAX_BODY}), status=413)


def key_cases(variant: Case | None) -> Iterator[Case]:
    yield Case("no Idempotency-Key", key=None, code="validation_failed")
    yield Case("an empty Idempotency-Key", key="", code="validation_failed")
    yield Case("an Idempotency-Key of 256 characters", key="k" * 256, code="validation_failed")
    if variant is not None:
        yield Case(
            f"the Idempotency-Key replayed with {variant.name}",
            variant.body,
            params=variant.params,
            key="replayed",
            status=422,
            code="idempotency_key_reused",
        )


# --- the routes, their callers and valid requests -----------------------------------------


@dataclass
class Endpoint:
    caller: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # the valid body; None: the route takes none
    # Given where the route takes an Idempotency-Key: another valid request, for the replayed key.
    variant: Case | None = None
    foreign: list[Case] = field(default_factory=list)  # other callers' objects
    credential: bool = False  # the body is a credential: 401 is how it is refused
    schema: Any = None  # the body type when the route reads the raw body itself
    # More valid bodies whose subtree at ``path`` is mutated too (a union's other members).
    more: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    # False for a route that only checks (a campaign draft): even its valid request writes
    # nothing, so nothing is audited.
    changes: bool = True
    # A route that takes a file rather than JSON (the catalogue's CSV): its valid body, its
    # media type, and its own bad files (the JSON corpus does not apply to it).
    file: bytes | None = None
    media_type: str = "application/json"
    bad_files: list[Case] = field(default_factory=list)

    @property
    def idempotent(self) -> bool:
        return self.variant is not None


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    webhook_secret: str
    endpoints: dict[tuple[str, str], Endpoint]


async def admin_post(api: httpx.AsyncClient, admin: dict[str, str], path: str, body: Any) -> Any:
    response = await api.post(path, json=body, headers=admin)
    assert response.status_code in (200, 201), f"{path}: {response.text}"
    return response.json()


def campaign_body(store_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": "Double points on coffee",
        "rule": {"type": "multiplier", "factor": 2.0, "categories": ["coffee"]},
        "description": "Mornings only",
        "targeting": {
            "tiers": ["green"],
            "store_ids": [str(store_id)],
            "days_of_week": [0, 1],
            "hours": {"from": "04:00", "to": "08:00"},
            "segment": {
                "min_visits": 1,
                "max_visits": 50,
                "visited_within_days": 30,
                "inactive_for_days": 7,
                "favourite_category": "coffee",
            },
        },
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "priority": 1,
        "exclusive": False,
        "requires_activation": False,
        "per_member_limit": 5,
        "per_member_period": "week",
        "total_limit": 1000,
        **extra,
    }


def local_campaign_body(store_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    """A valid body whose schedule is the wall clock of a named zone."""
    body = campaign_body(store_id)
    del body["starts_at"], body["ends_at"]
    soon = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return {
        **body,
        "starts_at_local": (soon + timedelta(days=2)).isoformat(),
        "ends_at_local": (soon + timedelta(days=30)).isoformat(),
        "time_zone": "Asia/Vladivostok",
        **extra,
    }


ITEMS = [
    {"sku": "LATTE-M", "name": "Latte", "category": "coffee", "quantity": 2, "unit_price": 17500}
]
REWARD = {"type": "reward", "cost_points": 50, "category": "bakery", "max_value": 20000}
KINDS = [
    {"type": "bonus", "points": 10, "sku": "LATTE-M", "category": "coffee", "min_amount": 100},
    {"type": "stamp_card", "category": "coffee", "stamps_needed": 6, "reward_max_value": 30000},
    {"type": "win_back", "inactive_days": 30, "points": 100},
    {"type": "birthday", "points": 100, "window_days": 7},
    {"type": "welcome", "points": 100},
    {**REWARD, "valid_days": 30},
]


async def build_world(shop: Shop) -> World:
    api = shop.client
    till_1, till_2 = await open_till(), await open_till()
    spare = await another_till(till_1.store_id)  # revoked by the valid request
    elsewhere = await another_till(till_2.store_id)
    member_a = await log_in(api, shop.sms)
    member_b = await log_in(api, shop.sms)
    device_2 = await log_in(api, shop.sms, phone=member_a.phone)  # signed out by DELETE

    async def push_device(member: Any) -> str:
        body = {"provider": "apns", "token": uuid.uuid4().hex * 2}
        response = await api.post("/v1/me/devices", headers=member.headers, json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    phone_a, phone_b = await push_device(member_a), await push_device(member_b)  # DELETE's
    leaving = await log_in(api, shop.sms, phone=member_a.phone)  # logs out
    refresher = await log_in(api, shop.sms, phone=member_b.phone)  # refreshes
    loser = await log_in(api, shop.sms)  # replaces a lost card
    loser_too = await log_in(api, shop.sms)  # whose lost card staff replace
    asker = await log_in(api, shop.sms)  # asks for an erasure code
    eraser = await log_in(api, shop.sms)  # erases their account
    sent = await api.post("/v1/me/erasure/code", headers=eraser.headers)
    assert sent.status_code == 202, sent.text
    erased_on_request = await log_in(api, shop.sms)  # erased by an admin
    await grant(member_a.member_id, 5000)
    new_phone = unique_phone()
    assert (await api.post("/v1/auth/otp", json={"phone": new_phone})).status_code == 202
    manager = await hire(api, "manager", [till_1.store_id])
    admin = await hire(api, "admin")
    barista = await hire(api, "barista", [till_1.store_id])
    headers = {
        "anonymous": {},
        "member_a": member_a.headers,
        "loser": loser.headers,
        "asker": asker.headers,
        "eraser": eraser.headers,
        "leaving": {"Authorization": f"Bearer {leaving.access_token}"},
        "manager": manager.headers,
        "admin": admin.headers,
        "till_1": till_1.headers,
    }

    sale = (await buy(api, till_1, purchase_body(member_a.card_number))).json()
    sale_elsewhere = (await buy(api, till_2, purchase_body(member_b.card_number))).json()
    lined = {**purchase_body(member_a.card_number, amount=35000), "items": ITEMS}
    lined_sale = (await buy(api, till_1, lined)).json()  # refunded by lines

    async def waiting_adjustment(points: int) -> str:
        """An adjustment above the manager's limits: it waits for a second staff member."""
        asked = await api.post(
            f"/v1/admin/members/{member_a.member_id}/adjustments",
            headers={**manager.headers, "Idempotency-Key": uuid.uuid4().hex},
            json={"points": points, "reason": "a lost stamp card"},
        )
        assert asked.json()["status"] == "pending_approval", asked.text
        return str(asked.json()["approval_id"])

    to_approve, to_reject = await waiting_adjustment(6000), await waiting_adjustment(7000)

    taken_ids: list[str] = []  # external ids of the checkouts below

    async def checkout(till: Any) -> str:
        body = purchase_body(member_a.card_number)
        response = await api.post(
            "/v1/checkouts",
            json=body,
            headers={**till.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        taken_ids.append(body["external_id"])
        return str(response.json()["checkout_id"])

    to_hold, to_complete, to_cancel, to_cancel_too = [await checkout(till_1) for _ in range(4)]
    checkout_elsewhere = await checkout(till_2)

    async def campaign(body: dict[str, Any], publish: bool) -> str:
        created = await admin_post(api, admin.headers, "/v1/admin/campaigns", body)
        if publish:
            await admin_post(api, admin.headers, f"/v1/admin/campaigns/{created['id']}/publish", {})
        return str(created["id"])

    store_1 = till_1.store_id
    draft, to_schedule, to_publish = [
        await campaign(campaign_body(store_1), publish=False) for _ in range(3)
    ]
    to_pause, to_end, ended = [
        await campaign(campaign_body(store_1), publish=True) for _ in range(3)
    ]
    await admin_post(api, admin.headers, f"/v1/admin/campaigns/{ended}/end", {})
    reward, reward_too = [
        await campaign({"name": "A free cookie", "rule": REWARD}, publish=True) for _ in range(2)
    ]
    activation = await campaign(
        {
            "name": "Ten on a visit",
            "rule": {"type": "bonus", "points": 10, "min_amount": 100},
            "requires_activation": True,
        },
        publish=True,
    )
    await grant(member_b.member_id, 100)
    bought = await api.post(
        f"/v1/me/offers/{reward}/redeem",
        headers={**member_b.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert bought.status_code == 201, bought.text
    coupon_of_b = bought.json()["offer"]["coupon_code"]
    messages = await OutboxMessage.select(OutboxMessage.id).order_by(OutboxMessage.created_at)
    dead, pending = str(messages[0]["id"]), str(messages[1]["id"])
    await OutboxMessage.update({OutboxMessage.status: "dead"}).where(OutboxMessage.id == dead)

    nobody = str(uuid.uuid4())
    other_store = str(till_2.store_id)
    partner_body = {
        "url": "http://127.0.0.1:9/hooks",  # loopback: allowed outside production
        "event_types": ["sale.completed", "points.earned"],
        "description": "CRM",
        "secret": "whsec_" + "a" * 32,  # 24 bytes once decoded: the shortest allowed
        "personal_data_allowed": False,
        "enabled": True,
    }
    partner = await admin_post(api, admin.headers, PARTNER_ENDPOINTS, partner_body)
    partner_id = partner["endpoint"]["id"]
    partner_delivery = await delivery_for(partner_id, member_a.member_id)
    dead_push, pending_push = await push_deliveries_of(api, member_a)
    sale_body = {**purchase_body(member_a.card_number, amount=35000), "items": ITEMS}
    checkout_body = {**purchase_body(member_a.card_number, amount=35000), "items": ITEMS}
    order_body = {
        "store_id": str(store_1),
        "amount": 35000,
        "currency": "RUB",
        "items": ITEMS,
        "redeem_points": 100,
    }
    staff_body = {
        "email": f"new-{uuid.uuid4().hex[:8]}@astrocoffee.test",
        "name": "New barista",
        "password": STAFF_PASSWORD,
        "role": "barista",
        "store_ids": [str(store_1)],
    }
    rules_body = msgspec.to_builtins(DEFAULT_RULES)
    rules_body["excluded_categories"] = ["gift-cards"]
    rules_body["excluded_skus"] = ["GIFT-500"]
    webhook_body = {
        "id": f"evt_{uuid.uuid4().hex[:8]}",
        "type": "payment.succeeded",
        "data": {"payment_id": "pay_corpus", "note": "from the corpus"},
    }

    def theirs(name: str, body: dict[str, Any] | None = None, **params: str) -> Case:
        """A request naming another caller's object (or none at all): 403 or 404."""
        return Case(name, None if body is None else encode(body), params=params, foreign=True)

    def reused(body: dict[str, Any], external_id: str, of: str) -> Case:
        return Case(
            f"the external_id of {of}",
            encode({**body, "external_id": external_id}),
            code="external_id_reused",
        )

    def wrong_currency(body: dict[str, Any]) -> Case:
        return Case("a currency other than the store's", encode({**body, "currency": "USD"}))

    def unknown_member(body: dict[str, Any]) -> Case:
        no_one = {"card_number": "0000000000000000"}
        return theirs("a card that belongs to no member", {**body, "customer": no_one})

    def bad_refunds() -> list[Case]:
        """Another store's purchase, none at all, and refund lines that do not fit the
        receipt (``lined_sale``: 2 x LATTE-M at 175.00), each with its code."""
        lined_id = lined_sale["purchase_id"]

        def lines(name: str, body: dict[str, Any], code: str, purchase_id: str = lined_id) -> Case:
            return Case(name, encode(body), params={"purchase_id": purchase_id}, code=code)

        latte = {"sku": "LATTE-M", "quantity": 1}
        return [
            theirs(
                "another store's purchase",
                {"amount": 1000},
                purchase_id=sale_elsewhere["purchase_id"],
            ),
            Case("no such purchase", encode({"amount": 1000}), params={"purchase_id": nobody}),
            lines(
                "a SKU not on the receipt",
                {"lines": [{**latte, "sku": "MUFFIN"}]},
                "refund_line_unknown",
            ),
            lines(
                "more units than sold",
                {"lines": [{**latte, "quantity": 3}]},
                "refund_exceeds_lines",
            ),
            lines(
                "the same SKU twice, more units than sold in all",
                {"lines": [latte, {**latte, "quantity": 2}]},
                "refund_exceeds_lines",
            ),
            lines(
                "an amount the lines are not worth",
                {"amount": 17400, "lines": [latte]},
                "refund_amount_mismatch",
            ),
            lines(
                "lines on a purchase sold by amount only",
                {"lines": [latte]},
                "purchase_has_no_lines",
                purchase_id=sale["purchase_id"],
            ),
        ]

    def sale_like(
        caller: str,
        body: dict[str, Any],
        other_amount: int,
        *foreign: Case,
        valid: dict[str, Any] | None = None,
        **more: Any,
    ) -> Endpoint:
        """A sale, a checkout or an order: ``valid`` (or ``body``) is sent, ``body`` with
        another amount replays its key, and ``body`` in another currency or of an absurd
        amount is refused."""
        absurd = Case(
            "an amount above the store's maximum",
            encode({**body, "amount": 10**12, "items": []}),
            code="sale_amount_too_large",
        )
        return Endpoint(
            caller,
            body=valid or body,
            variant=Case("another amount", encode({**body, "amount": other_amount, "items": []})),
            foreign=[wrong_currency(body), absurd, *foreign],
            **more,
        )

    endpoints = {
        ("POST", "/v1/auth/otp"): Endpoint("anonymous", body={"phone": unique_phone()}),
        ("POST", "/v1/auth/token"): Endpoint(
            "anonymous",
            body={"phone": new_phone, "code": shop.sms.codes[new_phone]},
            credential=True,
        ),
        ("POST", "/v1/auth/refresh"): Endpoint(
            "anonymous",
            body={"refresh_token": refresher.refresh_token},
            credential=True,
            foreign=[
                Case(
                    "another session's token with this one's secret",
                    encode(
                        {
                            "refresh_token": member_b.refresh_token.partition(".")[0]
                            + "."
                            + refresher.refresh_token.partition(".")[2]
                        }
                    ),
                    foreign=True,
                )
            ],
        ),
        ("POST", "/v1/staff/token"): Endpoint(
            "anonymous",
            body={"email": admin.email, "password": STAFF_PASSWORD},
            credential=True,
        ),
        ("POST", "/v1/auth/logout"): Endpoint("leaving"),
        ("DELETE", "/v1/me/sessions/{session_id:str}"): Endpoint(
            "member_a",
            params={"session_id": device_2.refresh_token.partition(".")[0]},
            foreign=[
                theirs(
                    "another member's session", session_id=member_b.refresh_token.partition(".")[0]
                ),
                theirs("a session id with a NUL", session_id="abc%00def"),
                Case("a session id of 2,000 characters", params={"session_id": "s" * 2000}),
            ],
        ),
        ("POST", "/v1/me/card/replace"): Endpoint(
            "loser",
            body={"card_number": loser.card_number},
            foreign=[Case("another member's card", encode({"card_number": member_b.card_number}))],
        ),
        ("POST", "/v1/me/devices"): Endpoint(
            "member_a",
            body={"provider": "webpush", "subscription": web_push_subscription()},
            more=[
                (("token",), {"provider": "fcm", "token": "fcm-token:" + "x" * 140}),
                (("token",), {"provider": "apns", "token": "ab" * 32}),
            ],
            foreign=[
                Case(
                    "an http endpoint",
                    encode(
                        {
                            "provider": "webpush",
                            "subscription": web_push_subscription("http://push.example/s/1"),
                        }
                    ),
                ),
                Case(
                    "an APNs token that is not hex",
                    encode({"provider": "apns", "token": "zz" * 32}),
                ),
                Case("an FCM token with spaces", encode({"provider": "fcm", "token": "a b" * 20})),
                Case(
                    "a subscription's keys as a token",
                    encode({"provider": "webpush", "token": "ab" * 32}),
                ),
            ],
        ),
        ("DELETE", "/v1/me/devices/{device_id:uuid}"): Endpoint(
            "member_a",
            params={"device_id": phone_a},
            foreign=[
                theirs("another member's device", device_id=phone_b),
                theirs("no such device", device_id=nobody),
            ],
        ),
        ("PUT", "/v1/me/notifications"): Endpoint(
            "member_a",
            body={"language": "en", "kinds": {"birthday": False}},
            foreign=[Case("a kind there is not", encode({"kinds": {"spam": True}}))],
        ),
        ("PUT", "/v1/me/consents"): Endpoint(
            "member_a",
            body={"push": True, "sms": False, "email": True},
            foreign=[Case("no channel named", encode({}))],
        ),
        ("POST", "/v1/admin/members/{member_id:uuid}/card/replace"): Endpoint(
            "manager",
            params={"member_id": loser_too.member_id},
            body={"card_number": loser_too.card_number},
            foreign=[
                theirs("no such member", {"card_number": loser_too.card_number}, member_id=nobody),
                Case("a card not the member's", encode({"card_number": member_b.card_number})),
            ],
        ),
        ("POST", "/v1/me/erasure/code"): Endpoint("asker"),
        ("POST", "/v1/me/erasure"): Endpoint(
            "eraser",
            body={"code": shop.sms.codes[eraser.phone]},
            foreign=[Case("a code that was never sent", encode({"code": "12345x"}))],
        ),
        ("POST", "/v1/admin/members/{member_id:uuid}/erasure"): Endpoint(
            "admin",
            params={"member_id": erased_on_request.member_id},
            body={"reason": "written request no. 12, 2026-12-01"},
            foreign=[theirs("no such member", {"reason": "request no. 13"}, member_id=nobody)],
        ),
        ("PATCH", "/v1/me"): Endpoint(
            "member_a",
            body={"birth_date": "1990-05-17", "time_zone": "Asia/Vladivostok"},
            foreign=[
                Case("a zone the IANA database lacks", encode({"time_zone": "Mars/Olympus"})),
                Case("a zone name in lower case", encode({"time_zone": "europe/moscow"})),
            ],
        ),
        ("POST", "/v1/purchases"): sale_like(
            "till_1",
            sale_body,
            35001,
            unknown_member(sale_body),
            reused(sale_body, sale["external_id"], of="another sale"),
            theirs("another member's coupon", {**sale_body, "coupons": [coupon_of_b]}),
            valid={**sale_body, "redeem_points": 100},
            # Coupon codes are checked against the member's coupons: mutated, never sent valid.
            more=[(("coupons",), {**sale_body, "coupons": ["ABCDEFGH"]})],
        ),
        ("POST", "/v1/purchases/{purchase_id:uuid}/refunds"): Endpoint(
            "till_1",
            params={"purchase_id": sale["purchase_id"]},
            body={"amount": 1000, "reason": "a cup returned"},
            variant=Case("another amount", encode({"amount": 2000})),
            foreign=bad_refunds(),
        ),
        ("POST", "/v1/admin/purchases/{purchase_id:uuid}/refunds"): Endpoint(
            "manager",
            params={"purchase_id": lined_sale["purchase_id"]},
            body={"lines": [{"sku": "LATTE-M", "quantity": 1}], "reason": "a cup returned"},
            variant=Case("another line", encode({"lines": [{"sku": "LATTE-M", "quantity": 2}]})),
            foreign=[
                *bad_refunds(),
                Case("neither amount nor lines", encode({"reason": "nothing said"})),
            ],
        ),
        ("POST", "/v1/checkouts"): sale_like(
            "till_1",
            checkout_body,
            1,
            unknown_member(checkout_body),
            reused(checkout_body, taken_ids[0], of="another checkout"),
            reused(checkout_body, sale["external_id"], of="a sale"),
        ),
        ("POST", "/v1/checkouts/{checkout_id:uuid}/hold"): Endpoint(
            "till_1",
            params={"checkout_id": to_hold},
            body={"points": 10},
            variant=Case("other points", encode({"points": 11})),
            foreign=[
                theirs("another store's checkout", {"points": 10}, checkout_id=checkout_elsewhere),
                Case("more points than the member has", encode({"points": 10**9})),
            ],
        ),
        ("POST", "/v1/checkouts/{checkout_id:uuid}/complete"): Endpoint(
            "till_1",
            params={"checkout_id": to_complete},
            body={"payment_ref": "pos-payment-1", "paid_amount": 35000},
            variant=Case("another payment", encode({"payment_ref": "x", "paid_amount": 100})),
            foreign=[
                theirs(
                    "another store's checkout",
                    {"payment_ref": "pos-payment-1", "paid_amount": 35000},
                    checkout_id=checkout_elsewhere,
                ),
                Case(
                    "more paid than owed",
                    encode({"payment_ref": "pos-payment-1", "paid_amount": 35001}),
                ),
            ],
        ),
        ("POST", "/v1/checkouts/{checkout_id:uuid}/cancel"): Endpoint(
            "till_1",
            params={"checkout_id": to_cancel},
            variant=Case("another checkout", params={"checkout_id": to_cancel_too}),
            foreign=[theirs("another store's checkout", checkout_id=checkout_elsewhere)],
        ),
        ("POST", "/v1/orders"): sale_like(
            "member_a",
            order_body,
            35001,
            theirs("no such store", {**order_body, "store_id": nobody}),
            Case("more points than the member has", encode({**order_body, "redeem_points": 10**9})),
        ),
        ("POST", "/v1/me/offers/{campaign_id:uuid}/activate"): Endpoint(
            "member_a",
            params={"campaign_id": activation},
            foreign=[
                theirs("no such offer", campaign_id=nobody),
                theirs("a draft campaign", campaign_id=draft),
            ],
        ),
        ("POST", "/v1/me/offers/{campaign_id:uuid}/redeem"): Endpoint(
            "member_a",
            params={"campaign_id": reward},
            variant=Case("another reward", params={"campaign_id": reward_too}),
            foreign=[theirs("no such reward", campaign_id=nobody)],
        ),
        ("POST", "/v1/admin/rules"): Endpoint("admin", body=rules_body),
        ("POST", "/v1/admin/members/{member_id:uuid}/adjustments"): Endpoint(
            "manager",
            params={"member_id": member_a.member_id},
            body={"points": 10, "reason": "goodwill"},
            variant=Case("other points", encode({"points": 11, "reason": "goodwill"})),
            foreign=[
                theirs("no such member", {"points": 10, "reason": "goodwill"}, member_id=nobody),
                theirs(
                    "a member who never bought in the manager's stores",
                    {"points": 10, "reason": "goodwill"},
                    member_id=member_b.member_id,
                ),
            ],
        ),
        ("POST", "/v1/admin/adjustment-approvals/{approval_id:uuid}/approve"): Endpoint(
            "admin",
            params={"approval_id": to_approve},
            foreign=[
                theirs("no such approval", approval_id=nobody),
                Case("approving one's own", headers=headers["manager"], foreign=True),
            ],
        ),
        ("POST", "/v1/admin/adjustment-approvals/{approval_id:uuid}/reject"): Endpoint(
            "admin",
            params={"approval_id": to_reject},
            foreign=[
                theirs("no such approval", approval_id=nobody),
                Case("rejecting one's own", headers=headers["manager"], foreign=True),
            ],
        ),
        ("PATCH", "/v1/admin/members/{member_id:uuid}/birth-date"): Endpoint(
            "manager",
            params={"member_id": member_a.member_id},
            body={"birth_date": "1990-05-18"},
            foreign=[
                theirs("no such member", {"birth_date": "1990-05-18"}, member_id=nobody),
                Case("a birth date in the future", encode({"birth_date": "2999-01-01"})),
            ],
        ),
        ("PATCH", "/v1/admin/stores/{store_id:uuid}"): Endpoint(
            "admin",
            params={"store_id": str(store_1)},
            body={"name": "Arbat", "time_zone": "Europe/Moscow", "day_starts_at": 0},
            foreign=[
                theirs("no such store", {"name": "Arbat"}, store_id=nobody),
                Case("a zone the IANA database lacks", encode({"time_zone": "Europe/Atlantis"})),
                Case("a day starting at 07:00", encode({"day_starts_at": 7})),
            ],
        ),
        ("POST", "/v1/admin/staff"): Endpoint(
            "admin",
            body=staff_body,
            foreign=[
                Case("a store that does not exist", encode({**staff_body, "store_ids": [nobody]})),
                Case("an email already taken", encode({**staff_body, "email": admin.email})),
            ],
        ),
        ("PATCH", "/v1/admin/staff/{staff_id:uuid}"): Endpoint(
            "admin",
            params={"staff_id": barista.staff_id},
            body={
                "role": "barista",
                "store_ids": [str(store_1)],
                "active": True,
                "password": STAFF_PASSWORD + "!",
            },
            foreign=[
                Case("no such staff user", encode({"active": True}), params={"staff_id": nobody}),
                Case("a store that does not exist", encode({"store_ids": [nobody]})),
            ],
        ),
        ("POST", "/v1/admin/stores"): Endpoint(
            "admin",
            body={
                "code": f"S-{uuid.uuid4().hex[:6].upper()}",
                "name": "Arbat",
                "currency": "RUB",
                "time_zone": "Europe/Moscow",
            },
            foreign=[
                Case(
                    "a zone the IANA database lacks",
                    encode({"code": "ATL-1", "name": "Atlantis", "time_zone": "Atlantis/Capital"}),
                ),
            ],
        ),
        ("POST", "/v1/admin/stores/{store_id:uuid}/terminals"): Endpoint(
            "manager",
            params={"store_id": str(store_1)},
            body={"name": "till 9"},
            foreign=[theirs("another store", {"name": "till 9"}, store_id=other_store)],
        ),
        ("POST", "/v1/admin/staff/{staff_id:uuid}/unlock"): Endpoint(
            "admin",
            params={"staff_id": barista.staff_id},
            foreign=[theirs("no such staff user", staff_id=nobody)],
        ),
        ("POST", "/v1/admin/terminals/{terminal_id:uuid}/revoke"): Endpoint(
            "manager",
            params={"terminal_id": str(spare.terminal_id)},
            foreign=[
                theirs("another store's terminal", terminal_id=str(elsewhere.terminal_id)),
                theirs("no such terminal", terminal_id=nobody),
            ],
        ),
        # A check writes nothing even when the body is good: the corpus proves the bad ones
        # are refused the same way as by the create.
        ("POST", "/v1/admin/campaigns/check"): Endpoint(
            "admin", body=campaign_body(store_1), changes=False
        ),
        # A forecast replays stored sales and writes nothing either.
        ("POST", "/v1/admin/campaigns/forecast"): Endpoint(
            "admin", body=campaign_body(store_1), changes=False
        ),
        ("POST", "/v1/admin/campaigns"): Endpoint(
            "admin",
            body=campaign_body(store_1),
            more=[(("rule",), {"name": "Another kind", "rule": kind}) for kind in KINDS]
            + [
                ((name,), local_campaign_body(store_1))
                for name in ("starts_at_local", "ends_at_local", "time_zone")
            ],
            foreign=[
                Case(
                    "a store that does not exist",
                    encode(campaign_body(store_1, targeting={"store_ids": [nobody]})),
                ),
                *(
                    Case(what, encode(body), status=400, code="validation_failed")
                    for what, body in (
                        ("an unknown zone", local_campaign_body(store_1, time_zone="Mars/Base")),
                        (
                            "a window whose end is its start",
                            campaign_body(
                                store_1,
                                targeting={"hours": {"from": "09:00", "to": "09:00"}},
                            ),
                        ),
                        ("a period limit of 0", campaign_body(store_1, per_member_limit=0)),
                        (
                            "a local start the clocks skip",
                            local_campaign_body(
                                store_1,
                                starts_at_local="2027-03-28T02:30:00",
                                ends_at_local="2027-04-30T00:00:00",
                                time_zone="Europe/Berlin",
                            ),
                        ),
                        (
                            "a local start without a zone",
                            {**local_campaign_body(store_1), "time_zone": None},
                        ),
                        (
                            "a start both as an instant and on a wall clock",
                            local_campaign_body(
                                store_1, starts_at=campaign_body(store_1)["starts_at"]
                            ),
                        ),
                        (
                            "a period without a limit",
                            campaign_body(store_1, per_member_limit=None),
                        ),
                    )
                ),
            ],
        ),
        ("PUT", "/v1/admin/campaigns/{campaign_id:uuid}"): Endpoint(
            "admin",
            params={"campaign_id": draft},
            body=campaign_body(store_1),
            foreign=[
                theirs("no such campaign", campaign_body(store_1), campaign_id=nobody),
                Case(
                    "a campaign that is no longer a draft",
                    encode(campaign_body(store_1)),
                    params={"campaign_id": to_pause},
                ),
            ],
        ),
        **{
            ("POST", f"/v1/admin/campaigns/{{campaign_id:uuid}}/{action}"): Endpoint(
                "admin",
                params={"campaign_id": target},
                foreign=[
                    theirs("no such campaign", campaign_id=nobody),
                    Case("an ended campaign", params={"campaign_id": ended}),
                ],
            )
            for action, target in (
                ("schedule", to_schedule),
                ("publish", to_publish),
                ("pause", to_pause),
                ("end", to_end),
            )
        },
        ("POST", PARTNER_ENDPOINTS): Endpoint(
            "admin",
            body=partner_body,
            foreign=[
                Case(
                    "a private address",
                    encode({**partner_body, "url": "https://10.0.0.7/hooks"}),
                    code="endpoint_address_refused",
                ),
                Case(
                    "the metadata service",
                    encode({**partner_body, "url": "https://169.254.169.254/latest"}),
                    code="endpoint_address_refused",
                ),
                Case(
                    "plain HTTP to a public address",
                    encode({**partner_body, "url": "http://93.184.216.34/hooks"}),
                    code="endpoint_address_refused",
                ),
                Case(
                    "a secret too short",
                    encode({**partner_body, "secret": "whsec_" + "a" * 28}),
                    code="validation_failed",
                ),
                Case(
                    "an unknown event type",
                    encode({**partner_body, "event_types": ["sale.completed", "coffee.spilt"]}),
                    code="validation_failed",
                ),
            ],
        ),
        ("PATCH", PARTNER_ENDPOINTS + "/{endpoint_id:uuid}"): Endpoint(
            "admin",
            params={"endpoint_id": partner_id},
            body={"description": "CRM (renamed)", "enabled": True, "event_types": ["tier.changed"]},
            foreign=[
                theirs("no such endpoint", {"enabled": False}, endpoint_id=nobody),
                Case(
                    "a private address in a URL change",
                    encode({"url": "http://192.168.1.1/hooks"}),
                    params={"endpoint_id": partner_id},
                    code="endpoint_address_refused",
                ),
            ],
        ),
        ("POST", PARTNER_ENDPOINTS + "/{endpoint_id:uuid}/secret/rotate"): Endpoint(
            "admin",
            params={"endpoint_id": partner_id},
            foreign=[theirs("no such endpoint", endpoint_id=nobody)],
        ),
        (
            "POST",
            PARTNER_ENDPOINTS + "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        ): Endpoint(
            "admin",
            params={"endpoint_id": partner_id, "delivery_id": partner_delivery},
            foreign=[
                theirs("no such delivery", endpoint_id=partner_id, delivery_id=nobody),
                theirs("another endpoint's", endpoint_id=nobody, delivery_id=partner_delivery),
            ],
        ),
        ("POST", "/v1/admin/outbox/{message_id:uuid}/retry"): Endpoint(
            "admin",
            params={"message_id": dead},
            foreign=[
                theirs("no such message", message_id=nobody),
                Case("a message that is not a dead letter", params={"message_id": pending}),
            ],
        ),
        ("POST", "/v1/admin/push/dead-letters/{delivery_id:uuid}/retry"): Endpoint(
            "admin",
            params={"delivery_id": dead_push},
            foreign=[
                theirs("no such push delivery", delivery_id=nobody),
                Case("a push that is not a dead letter", params={"delivery_id": pending_push}),
            ],
        ),
        ("PUT", "/v1/admin/catalogue"): Endpoint(
            "admin",
            file=CATALOGUE,
            media_type="text/csv; charset=utf-8",
            bad_files=catalogue_cases(),
        ),
        ("POST", "/v1/webhooks/payments"): Endpoint(
            "anonymous", body=webhook_body, schema=ProviderEvent
        ),
    }
    secret = shop.app.state.settings.webhook_secrets[0]
    return World(headers=headers, webhook_secret=secret, endpoints=endpoints)


PARTNER_ENDPOINTS = "/v1/admin/partner-webhooks/endpoints"


async def delivery_for(endpoint_id: str, member_id: str) -> str:
    """A delivery of the endpoint, as the feed would queue it (the replay route's object)."""
    now = datetime.now(UTC)
    delivery = PartnerDelivery(
        endpoint=uuid.UUID(endpoint_id),
        member=uuid.UUID(member_id),
        seq=1,
        event=uuid.uuid4(),
        type="sale.completed",
        payload={"member_id": member_id, "seq": 1},
        status="delivered",
        attempts=1,
        next_attempt_at=now,
        occurred_at=now,
        created_at=now,
        delivered_at=now,
    )
    await delivery.save()
    return str(delivery.id)


async def push_deliveries_of(api: httpx.AsyncClient, member: LoggedInMember) -> tuple[str, str]:
    """Two pushes queued for the member's phone, the first a dead letter: (dead, pending)."""
    phone = {"provider": "fcm", "token": "bad-input-phone:APA91b" + "x" * 100}
    added = await api.post("/v1/me/devices", headers=member.headers, json=phone)
    assert added.status_code == 201, added.text
    now = datetime.now(UTC)
    queued = []
    for status in ("dead", "pending"):
        delivery = PushDelivery(
            device=uuid.UUID(added.json()["id"]),
            member=uuid.UUID(member.member_id),
            collapse_key=f"points_earned:{status}",
            notification={"kind": "points_earned", "title": "+1", "body": "", "collapse_key": ""},
            status=status,
            attempts=1,
            next_attempt_at=now,
            created_at=now,
        )
        await delivery.save()
        queued.append(str(delivery.id))
    return queued[0], queued[1]


def write_routes(app: Any) -> dict[tuple[str, str], Any]:
    found = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method in WRITE_METHODS:
            if method in route.route_handler_map:
                found[(method, route.path)] = route.route_handler_map[method][0]
    return found


def cases_for(handler: Any, endpoint: Endpoint) -> list[Case]:
    cases: list[Case] = []
    if endpoint.file is not None:
        cases += endpoint.bad_files
    elif endpoint.body is None:
        cases += no_body_cases()
    else:
        schema = endpoint.schema or handler.parsed_fn_signature.parameters["data"].annotation
        kind = mi.type_info(schema)
        cases += body_cases(kind, endpoint.body)
        for focus, body in endpoint.more:
            focused = [c for c in body_cases(kind, body) if c.name.startswith(".".join(focus))]
            assert focused, f"no cases at {focus}"
            cases += focused
    if endpoint.idempotent:
        cases += key_cases(endpoint.variant)
    cases += endpoint.foreign
    unique: dict[tuple[Any, ...], Case] = {}
    for case in cases:
        unique.setdefault((case.body, tuple(sorted(case.params.items())), case.key), case)
    return list(unique.values())


# --- checking -----------------------------------------------------------------------------

# The callers of the corpus who are staff: each change they make leaves one audit entry.
STAFF_CALLERS = frozenset({"manager", "admin", "barista"})

# Written on purpose by a refused request: the audit trail records attempts by staff (a
# wrong password among them), and a wrong password counts towards the account's lockout.
DELIBERATE = {
    "audit_entry": "NULL",
    "staff_user": "to_jsonb(r) - 'failed_logins' - 'failures_since' - 'locked_until'",
}
SNAPSHOT = " UNION ALL ".join(
    f"SELECT '{t._meta.tablename}' AS name, "
    f"{'0' if DELIBERATE.get(t._meta.tablename) == 'NULL' else 'count(*)'} AS n, "
    f"md5(coalesce(string_agg(({DELIBERATE.get(t._meta.tablename, 'r')})::text, ','"
    f" ORDER BY ({DELIBERATE.get(t._meta.tablename, 'r')})::text), '')) AS digest "
    f"FROM {t._meta.tablename} r"
    for t in ALL_TABLES
)


async def snapshot(db: asyncpg.Connection) -> dict[str, tuple[int, str]]:
    tables = {row["name"]: (row["n"], row["digest"]) for row in await db.fetch(SNAPSHOT)}
    assert {"ledger_entry", "member_event", "outbox_message", "idempotency_record"} <= set(tables)
    return tables


def fill(path: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        for kind in ("uuid", "str"):
            path = path.replace(f"{{{name}:{kind}}}", value)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


@dataclass
class Caller:
    api: httpx.AsyncClient
    world: World
    keys: dict[tuple[str, str], str] = field(default_factory=dict)

    async def send(
        self, method: str, path: str, endpoint: Endpoint, case: Case, *, valid: bool = False
    ) -> httpx.Response:
        headers = {**self.world.headers[endpoint.caller], **case.headers}
        if case.body is not None:
            headers.setdefault("Content-Type", endpoint.media_type)
        if endpoint.idempotent and case.key is not None:
            if case.key == "fresh":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            elif case.key == "replayed":
                headers["Idempotency-Key"] = self.keys[(method, path)]
            else:
                headers["Idempotency-Key"] = case.key
            if valid:
                self.keys[(method, path)] = headers["Idempotency-Key"]
        if endpoint.schema is ProviderEvent:
            # The signature is good: the body, not the credential, is what is judged.
            now = int(time.time())
            signature = sign(self.world.webhook_secret, now, case.body or b"")
            headers["X-Signature"] = f"t={now},v1={signature}"
        url = fill(path, {**endpoint.params, **case.params})
        return await self.api.request(method, url, content=case.body, headers=headers)


def judge(endpoint: Endpoint, case: Case, response: httpx.Response) -> list[str]:
    status = response.status_code
    if not 400 <= status < 500:
        return [f"{status} (not a 4xx): {response.text[:300]}"]
    wrong = []
    if case.status is not None and status != case.status:
        wrong.append(f"{status}, not {case.status}")
    if status in (401, 403) and not (case.foreign or endpoint.credential):
        wrong.append(f"{status}: refused as a caller, not for its input")
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        wrong.append(f"{response.headers.get('content-type')}, not application/problem+json")
        return wrong
    problem = response.json()
    for name in ("type", "title", "status", "detail", "code"):
        if not problem.get(name):
            wrong.append(f"the problem has no {name}")
    if problem.get("status") != status:
        wrong.append(f"the problem says {problem.get('status')}, the response {status}")
    if case.code is not None and problem.get("code") != case.code:
        wrong.append(f"code {problem.get('code')}, not {case.code}")
    return wrong


def changes(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> str:
    return ", ".join(
        f"{name} {before[name][0]}->{after[name][0]} rows"
        + (" (changed)" if before[name][1] != after[name][1] else "")
        for name in before
        if before[name] != after[name]
    )


async def refused(
    caller: Caller,
    db: asyncpg.Connection,
    method: str,
    path: str,
    endpoint: Endpoint,
    case: Case,
    answers: Counter[int],
    settle: Callable[[], Awaitable[Any]],
) -> list[str]:
    """Sends ``case``; what is wrong with its answer (counted in ``answers``), and what it
    wrote if it wrote anything."""
    # The store figures of the sales before this case are folded after their commit (by
    # whichever folder runs): settled first, so that what changes below is this case's.
    await settle()
    before = await snapshot(db)
    response = await caller.send(method, path, endpoint, case)
    answers[response.status_code] += 1
    wrong = judge(endpoint, case, response)
    after = await snapshot(db)
    if before != after:
        wrong.append(f"wrote {changes(before, after)}")
    return [f"{method} {path} [{case.name}]: {w}" for w in wrong]


@pytest.fixture
async def db(servers: RunServers) -> Any:
    connection = await asyncpg.connect(servers.database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_bad_input_is_refused_with_a_4xx_and_writes_nothing(
    shop: Shop, db: asyncpg.Connection
) -> None:
    world = await build_world(shop)
    routes = write_routes(shop.app)
    assert set(routes) - set(world.endpoints) == set(), "write routes without a corpus"
    assert set(world.endpoints) - set(routes) == set(), "corpus rows for routes that are gone"
    caller = Caller(shop.client, world)
    state = shop.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)

    async def settle() -> None:
        await fold_committed_sales(publisher)

    failures: list[str] = []
    sizes: dict[str, int] = {}
    answers: Counter[int] = Counter()
    for (method, path), endpoint in world.endpoints.items():
        cases = cases_for(routes[(method, path)], endpoint)
        sizes[f"{method} {path}"] = len(cases)
        replays = [c for c in cases if c.key == "replayed"]
        for case in [c for c in cases if c.key != "replayed"]:
            failures += await refused(caller, db, method, path, endpoint, case, answers, settle)
        # The valid request last: the corpus is refused for what is bad in it.
        body = encode(endpoint.body) if endpoint.body else None
        valid = Case("the valid request", endpoint.file if endpoint.file is not None else body)
        response = await caller.send(method, path, endpoint, valid, valid=True)
        if not 200 <= response.status_code < 300:
            failures.append(f"{method} {path}: the valid request got {response.text[:300]}")
            continue
        if endpoint.caller in STAFF_CALLERS:
            # Every change by staff is on the audit trail, written with the change.
            request_id = response.headers["x-request-id"]
            audited = await db.fetchval(
                "SELECT count(*) FROM audit_entry WHERE request_id = $1", request_id
            )
            if audited != int(endpoint.changes):
                failures.append(
                    f"{method} {path}: {audited} audit entries for the change, "
                    f"not {int(endpoint.changes)}"
                )
        for case in replays:
            failures += await refused(caller, db, method, path, endpoint, case, answers, settle)
    total = sum(sizes.values())
    print(f"\nbad-input corpus: {total} cases over {len(sizes)} write routes")
    print("  answered:", ", ".join(f"{n} x {status}" for status, n in sorted(answers.items())))
    for route, size in sizes.items():
        print(f"  {size:4d}  {route}")
    assert failures == [], f"{len(failures)} of {total} cases:\n" + "\n".join(failures)


# --- the WebSocket ------------------------------------------------------------------------


async def recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def closed_with(ws: Any, timeout: float = 10.0) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed:
        return ws.close_code


FRAMES: list[tuple[str, str | bytes]] = [
    ("malformed JSON", '{"type": "ping"'),
    ("not JSON", "ping"),
    ("a list", "[]"),
    ("null", "null"),
    ("an unknown type", '{"type": "subscribe"}'),
    ("no type", '{"last_seq": 1}'),
    ("a string for last_seq", '{"type": "resume", "last_seq": "5"}'),
    ("a fraction for last_seq", '{"type": "resume", "last_seq": 1.5}'),
    ("last_seq missing", '{"type": "resume"}'),
    ("an unknown field", '{"type": "ping", "x": 1}'),
    ("a negative last_seq", '{"type": "resume", "last_seq": -1}'),
    ("last_seq 2**63", '{"type": "resume", "last_seq": 9223372036854775808}'),
    ("last_seq 2**64 + 1", '{"type": "resume", "last_seq": 18446744073709551617}'),
    ("last_seq 1e309", '{"type": "resume", "last_seq": 1e309}'),
    (
        "broadcast_last_seq 2**63",
        '{"type": "resume", "last_seq": 0, "broadcast_last_seq": 9223372036854775808}',
    ),
    ("a NUL", '{"type": "ping\\u0000"}'),
    ("a lone surrogate", '{"type": "\\ud800"}'),
    ("a right-to-left override", '{"type": "\u202eping"}'),
    ("nested 2,000 deep", "[" * 2_000 + "]" * 2_000),
    ("a binary frame", b'{"type": "ping"}'),
    ("a second auth", '{"type": "auth", "token": "x"}'),
]


@pytest.fixture
async def ws_world(client: httpx.AsyncClient, live_server: LiveServer) -> Any:
    member = await log_in(client, live_server.sms)
    return f"{live_server.ws_url}/v1/ws", member


async def test_bad_frames_get_an_error_frame_and_the_socket_stays_usable(
    ws_world: Any, db: asyncpg.Connection
) -> None:
    url, member = ws_world
    failures = []
    before = await snapshot(db)
    async with websockets.connect(f"{url}?token={member.access_token}") as ws:
        assert (await recv(ws))["type"] == "ready"
        for name, frame in FRAMES:
            await ws.send(frame)
            try:
                answer = await recv(ws)
            except (TimeoutError, ConnectionClosed) as exc:
                failures.append(f"{name}: no error frame ({exc!r}, close {ws.close_code})")
                break
            if answer.get("type") != "error":
                failures.append(f"{name}: answered {answer}")
            await ws.send('{"type": "ping"}')
            if (await recv(ws)) != {"type": "pong"}:
                failures.append(f"{name}: the socket no longer answers a ping")
    after = await snapshot(db)
    if before != after:
        failures.append(f"wrote {changes(before, after)}")
    assert failures == []


PRE_AUTH: list[tuple[str, str | bytes, int]] = [
    ("malformed JSON", '{"type": "auth"', 4401),
    ("a token of the wrong type", '{"type": "auth", "token": 12345}', 4401),
    ("a token with a NUL", '{"type": "auth", "token": "a\\u0000b"}', 4401),
    ("a lone surrogate", '{"type": "auth", "token": "\\ud800"}', 4401),
    ("a store id that is not one", '{"type": "auth", "token": "x", "store_id": "\u202e1"}', 4401),
    ("nested 2,000 deep", "[" * 2_000 + "]" * 2_000, 4401),
    ("a binary frame", b'{"type": "auth", "token": "x"}', 4401),
    ("a frame over the limit", '{"type": "auth", "token": "' + "x" * 70_000 + '"}', 1009),
    ("a binary frame over the limit", b"x" * 70_000, 1009),
]


@pytest.mark.parametrize(("name", "frame", "code"), PRE_AUTH, ids=[c[0] for c in PRE_AUTH])
async def test_a_bad_first_frame_closes_the_socket(
    ws_world: Any, name: str, frame: str | bytes, code: int
) -> None:
    url, _ = ws_world
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(frame)
        assert await closed_with(ws) == code


@pytest.mark.parametrize(
    "frame",
    ['{"type": "ping", "x": "' + "x" * 70_000 + '"}', b"x" * 70_000],
    ids=["text", "binary"],
)
async def test_a_frame_over_the_limit_closes_an_open_socket_with_1009(
    ws_world: Any, frame: str | bytes
) -> None:
    url, member = ws_world
    async with websockets.connect(f"{url}?token={member.access_token}") as ws:
        assert (await recv(ws))["type"] == "ready"
        await ws.send(frame)
        assert await closed_with(ws) == 1009


@pytest.mark.parametrize(
    "token",
    ["%00", "%ED%A0%80", "%E2%80%AE" + "a" * 10, "x" * 5000],
    ids=["nul", "surrogate", "rtl", "long"],
)
async def test_a_bad_token_in_the_url_closes_with_4401(ws_world: Any, token: str) -> None:
    url, _ = ws_world
    async with websockets.connect(f"{url}?token={token}") as ws:
        assert await closed_with(ws) == 4401
