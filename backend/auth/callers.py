"""The kinds of caller, and the guards with which every route declares who may call it.

Authentication (``auth.middleware``) turns credentials into one of these; authorization is
decided here and nowhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from backend.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class MemberCaller:
    member_id: uuid.UUID
    session_id: str

    @property
    def scope(self) -> str:
        return f"member:{self.member_id}"


@dataclass(frozen=True, slots=True)
class TerminalCaller:
    terminal_id: uuid.UUID
    store_id: uuid.UUID

    @property
    def scope(self) -> str:
        return f"terminal:{self.terminal_id}"


Caller = MemberCaller | TerminalCaller


def _caller(connection: ASGIConnection[Any, Any, Any, Any]) -> object:
    if "user" not in connection.scope:
        raise Unauthorized("no credentials were presented")
    return connection.user


def members_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not isinstance(_caller(connection), MemberCaller):
        raise Forbidden("this endpoint is for members")


def terminals_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not isinstance(_caller(connection), TerminalCaller):
        raise Forbidden("this endpoint is for POS terminals (X-Api-Key)")
