"""Every route of the app against every kind of caller.

The routes come from the app's router, so a route added without an entry in EXPECTED fails
here; a route that declares no access rule is refused by the app (fail closed) and fails
here too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest
from litestar.routes import HTTPRoute

from db.tables import Terminal
from tests.conftest import LiveServer
from tests.factories import another_till, buy, hire, log_in, open_till, purchase_body

CALLERS = (
    "anonymous",
    "member_a",
    "member_b",
    "barista_1",
    "barista_2",
    "manager_1",
    "admin",
    "terminal_1",
    "revoked_terminal",
)
EVERYONE = frozenset(CALLERS)
MEMBER_A = frozenset({"member_a"})
MEMBERS = frozenset({"member_a", "member_b"})
STAFF = frozenset({"barista_1", "barista_2", "manager_1", "admin"})
STORE_1_STAFF = frozenset({"barista_1", "manager_1", "admin"})
STORE_1_MANAGERS = frozenset({"manager_1", "admin"})
ADMIN = frozenset({"admin"})
TERMINAL_1 = frozenset({"terminal_1"})
NOBODY: frozenset[str] = frozenset()

# (method, route path as Litestar names it) -> callers that get past authorization.
# Path parameters are filled with store 1, a terminal of store 1, barista 1 and one of
# member A's sessions, so the store and ownership rules are exercised too.
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/health/live"): EVERYONE,
    ("GET", "/health/ready"): EVERYONE,
    ("GET", "/asyncapi.json"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("POST", "/v1/auth/otp"): EVERYONE,
    ("POST", "/v1/auth/token"): EVERYONE,
    ("POST", "/v1/auth/refresh"): EVERYONE,
    ("POST", "/v1/staff/token"): EVERYONE,
    ("POST", "/v1/auth/logout"): MEMBERS | STAFF,
    ("GET", "/v1/me"): MEMBERS,
    ("GET", "/v1/me/qr"): MEMBERS,
    ("GET", "/v1/me/sessions"): MEMBERS,
    ("DELETE", "/v1/me/sessions/{session_id:str}"): MEMBER_A,
    ("GET", "/v1/me/transactions"): MEMBERS,
    ("POST", "/v1/me/card/replace"): MEMBERS,
    ("GET", "/v1/me/consents"): MEMBERS,
    ("PUT", "/v1/me/consents"): MEMBERS,
    ("GET", "/v1/me/export"): MEMBERS,
    ("GET", "/v1/me/devices"): MEMBERS,
    ("POST", "/v1/me/devices"): MEMBERS,
    ("DELETE", "/v1/me/devices/{device_id:uuid}"): MEMBERS,
    ("GET", "/v1/me/notifications"): MEMBERS,
    ("PUT", "/v1/me/notifications"): MEMBERS,
    ("GET", "/v1/push/web-push-key"): EVERYONE,
    ("GET", "/sw.js"): EVERYONE,  # the member page's service worker
    ("POST", "/v1/me/erasure/code"): MEMBERS,
    ("POST", "/v1/me/erasure"): MEMBERS,
    ("GET", "/v1/admin/members/{member_id:uuid}/export"): ADMIN,
    ("POST", "/v1/admin/members/{member_id:uuid}/erasure"): ADMIN,
    ("POST", "/v1/admin/members/{member_id:uuid}/card/replace"): STAFF,
    ("POST", "/v1/purchases"): TERMINAL_1,
    ("POST", "/v1/purchases/{purchase_id:uuid}/refunds"): TERMINAL_1,
    # A purchase of store 1: its receipt and a staff refund, for its managers and admins.
    ("GET", "/v1/admin/purchases/{purchase_id:uuid}"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/purchases/{purchase_id:uuid}/refunds"): STORE_1_MANAGERS,
    ("POST", "/v1/checkouts"): TERMINAL_1,
    ("POST", "/v1/checkouts/{checkout_id:uuid}/hold"): TERMINAL_1,
    ("POST", "/v1/checkouts/{checkout_id:uuid}/complete"): TERMINAL_1,
    ("POST", "/v1/checkouts/{checkout_id:uuid}/cancel"): TERMINAL_1,
    ("GET", "/v1/admin/rules"): STAFF,
    ("POST", "/v1/admin/rules"): ADMIN,
    ("GET", "/v1/admin/rules/versions"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/members"): STAFF,
    ("GET", "/v1/admin/members/{member_id:uuid}"): STAFF,
    ("GET", "/v1/admin/members/{member_id:uuid}/transactions"): STAFF,
    ("POST", "/v1/admin/members/{member_id:uuid}/adjustments"): STORE_1_MANAGERS,
    ("PATCH", "/v1/admin/members/{member_id:uuid}/birth-date"): STORE_1_MANAGERS,
    # A manager sees and decides the waiting adjustments of their stores' members (an
    # unknown one: 404); the rules of who decides: tests/backend/loyalty/test_approvals.py.
    ("GET", "/v1/admin/adjustment-approvals"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/adjustment-approvals/{approval_id:uuid}/approve"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/adjustment-approvals/{approval_id:uuid}/reject"): STORE_1_MANAGERS,
    ("GET", "/v1/staff/me"): STAFF,
    ("GET", "/v1/admin/staff"): ADMIN,
    ("POST", "/v1/admin/staff"): ADMIN,
    ("GET", "/v1/admin/staff/{staff_id:uuid}"): ADMIN,
    ("PATCH", "/v1/admin/staff/{staff_id:uuid}"): ADMIN,
    ("POST", "/v1/admin/staff/{staff_id:uuid}/unlock"): ADMIN,
    # A manager reads the entries about their stores (the rule: tests/backend/audit).
    ("GET", "/v1/admin/audit"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/stores"): STAFF,
    ("POST", "/v1/admin/stores"): ADMIN,
    ("GET", "/v1/admin/stores/{store_id:uuid}"): STORE_1_STAFF,
    ("PATCH", "/v1/admin/stores/{store_id:uuid}"): ADMIN,
    ("GET", "/v1/admin/stores/{store_id:uuid}/terminals"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/stores/{store_id:uuid}/terminals"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/terminals/{terminal_id:uuid}/revoke"): STORE_1_MANAGERS,
    # Someone else's order (here: none) is answered as if it did not exist (404).
    ("POST", "/v1/orders"): MEMBERS,
    ("GET", "/v1/orders/{order_id:uuid}"): MEMBERS,
    ("PATCH", "/v1/me"): MEMBERS,
    ("GET", "/v1/me/qr.svg"): MEMBERS,
    ("GET", "/v1/admin/stores/{store_id:uuid}/stats"): STORE_1_STAFF,
    ("GET", "/v1/admin/stores/{store_id:uuid}/reports/sales-by-hour"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/stores/{store_id:uuid}/reports/sales-by-hour.csv"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/stores/{store_id:uuid}/reports/points-by-day"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/stores/{store_id:uuid}/reports/points-by-day.csv"): STORE_1_MANAGERS,
    # The chain's: every store for an admin, a manager's own stores for a manager.
    ("GET", "/v1/admin/reports/sales-by-hour"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/reports/sales-by-hour.csv"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/reports/points-by-day"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/reports/points-by-day.csv"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/reports/program-days"): ADMIN,
    ("GET", "/v1/admin/reports/points-liability.csv"): ADMIN,
    ("GET", "/v1/admin/reports/members-by-tier.csv"): ADMIN,
    # The web client's pages and files: public, they hold no data.
    ("GET", "/"): EVERYONE,
    ("GET", "/staff"): EVERYONE,
    ("GET", "/staff/{name:str}"): EVERYONE,
    ("GET", "/v1/me/offers"): MEMBERS,
    # An offer that is not open to the member is answered as if it did not exist (404).
    ("POST", "/v1/me/offers/{campaign_id:uuid}/activate"): MEMBERS,
    ("POST", "/v1/me/offers/{campaign_id:uuid}/redeem"): MEMBERS,
    ("GET", "/v1/admin/campaigns"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/campaigns"): ADMIN,
    ("POST", "/v1/admin/campaigns/check"): ADMIN,
    ("PUT", "/v1/admin/catalogue"): ADMIN,
    ("GET", "/v1/admin/catalogue"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/catalogue/categories"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/catalogue.csv"): STORE_1_MANAGERS,
    ("POST", "/v1/admin/campaigns/forecast"): ADMIN,
    ("GET", "/v1/admin/campaigns/{campaign_id:uuid}"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/campaigns/{campaign_id:uuid}/report"): STORE_1_MANAGERS,
    ("GET", "/v1/admin/campaigns/{campaign_id:uuid}/report.csv"): STORE_1_MANAGERS,
    ("PUT", "/v1/admin/campaigns/{campaign_id:uuid}"): ADMIN,
    ("POST", "/v1/admin/campaigns/{campaign_id:uuid}/schedule"): ADMIN,
    ("POST", "/v1/admin/campaigns/{campaign_id:uuid}/publish"): ADMIN,
    ("POST", "/v1/admin/campaigns/{campaign_id:uuid}/pause"): ADMIN,
    ("POST", "/v1/admin/campaigns/{campaign_id:uuid}/end"): ADMIN,
    ("GET", "/v1/admin/outbox/dead-letters"): ADMIN,
    ("POST", "/v1/admin/outbox/{message_id:uuid}/retry"): ADMIN,
    ("GET", "/v1/admin/push/dead-letters"): ADMIN,
    ("POST", "/v1/admin/push/dead-letters/{delivery_id:uuid}/retry"): ADMIN,
    ("GET", "/v1/admin/reports/reconciliation"): ADMIN,
    ("GET", "/v1/admin/partner-webhooks/event-types"): ADMIN,
    ("GET", "/v1/admin/partner-webhooks/endpoints"): ADMIN,
    ("POST", "/v1/admin/partner-webhooks/endpoints"): ADMIN,
    ("GET", "/v1/admin/partner-webhooks/endpoints/{endpoint_id:uuid}"): ADMIN,
    ("PATCH", "/v1/admin/partner-webhooks/endpoints/{endpoint_id:uuid}"): ADMIN,
    ("POST", "/v1/admin/partner-webhooks/endpoints/{endpoint_id:uuid}/secret/rotate"): ADMIN,
    ("GET", "/v1/admin/partner-webhooks/endpoints/{endpoint_id:uuid}/deliveries"): ADMIN,
    (
        "POST",
        "/v1/admin/partner-webhooks/endpoints/{endpoint_id:uuid}/deliveries/"
        "{delivery_id:uuid}/replay",
    ): ADMIN,
    # The HMAC signature is the only credential; without one, nobody gets in
    # (signed deliveries: test_webhooks.py).
    ("POST", "/v1/webhooks/payments"): NOBODY,
}
# Litestar's generated OpenAPI documents: public.
PUBLIC_PREFIXES = ("/schema", "/static")
# Checked last: it ends the caller's session.
LAST = ("POST", "/v1/auth/logout")


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    params: dict[str, str]


@pytest.fixture
async def world(client: httpx.AsyncClient, live_server: LiveServer) -> World:
    till_1 = await open_till()
    till_2 = await open_till()
    revoked = await open_till()
    await Terminal.update({Terminal.revoked_at: Terminal.created_at}).where(
        Terminal.store == revoked.store_id
    )
    spare = await another_till(till_1.store_id)  # the one the revoke route revokes
    member_a = await log_in(client, live_server.sms)
    member_b = await log_in(client, live_server.sms)
    # A second device of member A, whose session the DELETE route targets.
    second_device = await log_in(client, live_server.sms, phone=member_a.phone)
    sale = await buy(client, till_1, purchase_body(member_a.card_number))
    checkout = await client.post(
        "/v1/checkouts",
        json=purchase_body(member_a.card_number),
        headers={**till_1.headers, "Idempotency-Key": "matrix-checkout"},
    )
    barista_1 = await hire(client, "barista", [till_1.store_id])
    barista_2 = await hire(client, "barista", [till_2.store_id])
    manager_1 = await hire(client, "manager", [till_1.store_id])
    admin = await hire(client, "admin")
    return World(
        headers={
            "anonymous": {},
            "member_a": member_a.headers,
            "member_b": member_b.headers,
            "barista_1": barista_1.headers,
            "barista_2": barista_2.headers,
            "manager_1": manager_1.headers,
            "admin": admin.headers,
            "terminal_1": till_1.headers,
            "revoked_terminal": revoked.headers,
        },
        params={
            "store_id": str(till_1.store_id),
            "terminal_id": str(spare.terminal_id),
            "staff_id": barista_1.staff_id,
            "session_id": second_device.refresh_token.partition(".")[0],
            "path": "openapi.json",
            "file_path": "js/member.js",
            "name": "rules",  # a console page
            "member_id": member_a.member_id,
            "purchase_id": sale.json()["purchase_id"],
            "checkout_id": checkout.json()["checkout_id"],
            "order_id": str(uuid.uuid4()),
            "campaign_id": str(uuid.uuid4()),
            "message_id": str(uuid.uuid4()),
            "endpoint_id": str(uuid.uuid4()),
            "delivery_id": str(uuid.uuid4()),
            "approval_id": str(uuid.uuid4()),
            "device_id": str(uuid.uuid4()),
        },
    )


def app_routes(live_server: LiveServer) -> list[tuple[str, str]]:
    found = []
    for route in live_server.app.routes:
        if not isinstance(route, HTTPRoute):
            continue  # the WebSocket route: test_gateway.py
        for method in route.methods:
            if method in ("OPTIONS", "HEAD"):
                continue  # Litestar's automatic handlers, which run no route code
            found.append((method, route.path))
    return sorted(found, key=lambda item: item == LAST)


def fill(path: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        for kind in ("uuid", "str", "path"):
            path = path.replace(f"{{{name}:{kind}}}", value)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


def expected_for(method: str, path: str) -> frozenset[str]:
    if path.startswith(PUBLIC_PREFIXES):
        return EVERYONE
    assert (method, path) in EXPECTED, f"{method} {path} has no row in the access matrix"
    return EXPECTED[(method, path)]


async def test_every_route_admits_exactly_the_callers_it_should(
    client: httpx.AsyncClient, live_server: LiveServer, world: World
) -> None:
    failures = []
    routes = app_routes(live_server)
    assert set(EXPECTED) <= set(routes), "rows for routes that do not exist"
    for method, path in routes:
        allowed = expected_for(method, path)
        for caller in CALLERS:
            response = await client.request(
                method,
                fill(path, world.params),
                headers={**world.headers[caller], "Idempotency-Key": uuid.uuid4().hex},
                json={} if method in ("POST", "PATCH", "PUT") else None,
            )
            assert response.status_code != 429, "throttled: the matrix cannot judge this"
            assert response.status_code < 500, f"{method} {path} as {caller}: {response.text}"
            denied = response.status_code in (401, 403) or (
                # Another member's session is answered as if it did not exist.
                caller in MEMBERS
                and path.endswith("{session_id:str}")
                and response.status_code == 404
            )
            if denied == (caller in allowed):
                failures.append(f"{method} {path} as {caller}: {response.status_code}")
    assert failures == []


async def test_every_handler_of_ours_declares_who_may_call_it(live_server: LiveServer) -> None:
    from backend.auth.access import ALLOW_KEY

    undeclared: list[str] = []
    for route in live_server.app.routes:
        for handler in getattr(route, "route_handlers", []):
            methods = getattr(handler, "http_methods", set())
            if methods == {"OPTIONS"}:
                continue  # Litestar's automatic OPTIONS answer
            if ALLOW_KEY not in handler.opt:
                undeclared.append(f"{route.path} {handler.handler_name}")
    assert undeclared == []


async def test_a_handler_without_a_rule_is_refused_fail_closed(client: httpx.AsyncClient) -> None:
    # Litestar's automatic OPTIONS handlers declare no rule (no CORS here: the web client is
    # served from the same origin), so they show what any undeclared route would get.
    response = await client.options("/v1/me")
    assert response.status_code == 403
    assert "declares no access rule" in response.json()["detail"]
