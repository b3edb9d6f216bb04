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

from db import sql

_SALT = """
UPDATE member SET audit_salt = COALESCE(audit_salt, {fresh})
WHERE id = {member_id} RETURNING audit_salt
"""


async def seal(member_id: uuid.UUID, value: object) -> str | None:
    """The seal of ``value`` (None stays None) for ``member_id``'s entries; in the caller's
    transaction, so a salt made here commits with the entry."""
    if value is None:
        return None
    rows = await sql.fetch(_SALT, fresh=secrets.token_hex(16), member_id=member_id)
    if not rows or rows[0]["audit_salt"] is None:
        raise LookupError(f"member {member_id} has no row to seal for")
    digest = hashlib.sha256(f"{rows[0]['audit_salt']}:{value}".encode()).hexdigest()
    return "sealed:" + digest[:32]
