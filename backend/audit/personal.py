"""Personal data on the audit trail, sealed so that erasure reaches it.

The trail is append-only (a trigger refuses UPDATE and DELETE), so a birth date or card number
written into it could never be erased. Where an entry must say what such a value was before
and after, it holds a seal instead: a SHA-256 of the value under the member's own random salt
(``member.audit_salt``, made on first need). While the member exists, an auditor can check a
claimed value against the seal (``seal`` again and compare); erasure clears the salt, and
the seal then names nothing that can be worked back or matched. (A plain hash would not do:
a birth date has only some 40,000 possible values.)
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from backend.audit.trail import record
from db import sql

_SALT = """
UPDATE member SET audit_salt = COALESCE(audit_salt, {fresh})
WHERE id = {member_id} RETURNING audit_salt
"""


async def seals(member_id: uuid.UUID, *values: object) -> list[str | None]:
    """The seals of ``values`` (None stays None) for ``member_id``'s entries, the salt read
    once; in the caller's transaction, so a salt made here commits with the entry."""
    if all(value is None for value in values):
        return [None] * len(values)
    rows = await sql.fetch(_SALT, fresh=secrets.token_hex(16), member_id=member_id)
    if not rows or rows[0]["audit_salt"] is None:
        raise LookupError(f"member {member_id} has no row to seal for")
    salt = rows[0]["audit_salt"]
    return [
        None
        if value is None
        else "sealed:" + hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()[:32]
        for value in values
    ]


async def seal(member_id: uuid.UUID, value: object) -> str | None:
    """The seal of one value (an auditor checking a claimed value against an entry)."""
    return (await seals(member_id, value))[0]


async def record_personal_change(
    action: str, member_id: uuid.UUID, field: str, before: object, after: object
) -> None:
    """Audit a change of one of a member's personal fields, its values sealed: the trail
    cannot be erased, the member's salt can."""
    sealed = await seals(member_id, before, after)
    await record(
        action,
        target_type="member",
        target_id=member_id,
        before={field: sealed[0]},
        after={field: sealed[1]},
    )
