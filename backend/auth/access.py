"""Authorization, decided here and nowhere else.

Every route declares who may call it with ``opt=allow(...)``; one app-wide guard compares
the caller's role with that declaration and refuses routes that declare nothing (fail
closed). Rules that depend on the data (a barista's stores, a member's own records) are the
``require_*`` helpers below, which services call with the resource in hand.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from backend.audit.trail import Actor, record
from backend.auth.callers import Caller, MemberCaller, Role, StaffCaller, TerminalCaller
from backend.errors import Forbidden, Unauthorized

ALLOW_KEY = "allow"
EVERYONE = frozenset(Role)


def allow(*roles: Role) -> dict[str, Any]:
    """Route options: who may call it. ``Role.ANONYMOUS`` also skips authentication."""
    options: dict[str, Any] = {ALLOW_KEY: frozenset(roles)}
    if Role.ANONYMOUS in roles:
        options["exclude_from_auth"] = True
    return options


# The callers the routes admit, named once (``opt=ADMINS | answers(...)``): Litestar copies a
# route's options, so one dict serves every route that names it.
PUBLIC = allow(Role.ANONYMOUS)
MEMBERS = allow(Role.MEMBER)
TERMINALS = allow(Role.TERMINAL)
STAFF = allow(Role.BARISTA, Role.MANAGER, Role.ADMIN)
MANAGERS = allow(Role.MANAGER, Role.ADMIN)
ADMINS = allow(Role.ADMIN)


def caller_role(connection: ASGIConnection[Any, Any, Any, Any]) -> Role:
    if "user" not in connection.scope or connection.scope["user"] is None:
        return Role.ANONYMOUS
    user = connection.scope["user"]
    if isinstance(user, MemberCaller | TerminalCaller | StaffCaller):
        return user.role
    raise TypeError(f"unexpected caller {type(user).__name__}")


async def authorize(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    # Async although it never awaits: Litestar runs a plain function guard in a worker
    # thread, and the hand-off cost more than the whole check (seen in the purchase profile).
    allowed: frozenset[Role] | None = handler.opt.get(ALLOW_KEY)
    if allowed is None:
        raise Forbidden(f"route {handler.handler_name} declares no access rule")
    role = caller_role(connection)
    if role in allowed or Role.ANONYMOUS in allowed:
        return
    if role == Role.ANONYMOUS:
        raise Unauthorized("credentials are required")
    user = connection.scope.get("user")
    if isinstance(user, StaffCaller):
        # A colleague trying a route beyond their role is worth knowing about.
        await record(
            "access.refused",
            target_type="route",
            target_id=f"{connection.scope.get('method', '')} {connection.scope['path']}"[:64],
            actor=Actor.of(user),
        )
    raise Forbidden(f"not allowed for a {role.value}")


def require_store(caller: Caller, store_id: uuid.UUID) -> None:
    """Staff see only their stores (admins all); a terminal only its own."""
    if isinstance(caller, StaffCaller) and caller.works_in(store_id):
        return
    if isinstance(caller, TerminalCaller) and caller.store_id == store_id:
        return
    raise Forbidden("this store is not yours")


def require_admin_or_store_manager(caller: Caller, store_id: uuid.UUID) -> None:
    if isinstance(caller, StaffCaller) and (
        caller.role == Role.ADMIN or (caller.role == Role.MANAGER and store_id in caller.store_ids)
    ):
        return
    raise Forbidden("only an admin or a manager of this store may do this")
