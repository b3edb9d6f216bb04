"""The kinds of caller that authentication (``auth.middleware``) produces."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    MEMBER = "member"
    TERMINAL = "terminal"
    BARISTA = "barista"
    MANAGER = "manager"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.BARISTA, Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class MemberCaller:
    member_id: uuid.UUID
    session_id: str
    role: Role = Role.MEMBER

    @property
    def scope(self) -> str:
        return f"member:{self.member_id}"

    @property
    def log_fields(self) -> dict[str, str]:
        return {"member_id": str(self.member_id)}


@dataclass(frozen=True, slots=True)
class TerminalCaller:
    terminal_id: uuid.UUID
    store_id: uuid.UUID
    role: Role = Role.TERMINAL

    @property
    def scope(self) -> str:
        return f"terminal:{self.terminal_id}"

    @property
    def log_fields(self) -> dict[str, str]:
        return {"terminal_id": str(self.terminal_id), "store_id": str(self.store_id)}


@dataclass(frozen=True, slots=True)
class StaffCaller:
    staff_id: uuid.UUID
    role: Role
    store_ids: frozenset[uuid.UUID]
    session_id: str

    @property
    def scope(self) -> str:
        return f"staff:{self.staff_id}"

    @property
    def log_fields(self) -> dict[str, str]:
        return {"staff_id": str(self.staff_id), "role": self.role.value}

    def works_in(self, store_id: uuid.UUID) -> bool:
        return self.role == Role.ADMIN or store_id in self.store_ids


Caller = MemberCaller | TerminalCaller | StaffCaller


# The caller of the request in hand, set by authentication (``auth.middleware``): the audit
# trail records it as who acted without every service having to be handed it. Each request
# runs in a task of its own, so one request's caller never reaches another's.
acting_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "acting_caller", default=None
)
