"""The hold sweeper: a checkout's held points go back to the member when its hold's time runs
out (a periodic job, ``backend.jobs.scheduler``)."""

from __future__ import annotations

from datetime import datetime

from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.till.checkout_rows import checkout_from, hold_event, lots_of, save
from db import sql
from db.pool import engine
from realtime.publisher import EventPublisher

_EXPIRED = """
SELECT * FROM checkout WHERE status = 'held' AND hold_expires_at <= {now}
ORDER BY hold_expires_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""


async def expire_holds(publisher: EventPublisher, *, now: datetime, batch: int = 100) -> int:
    """Void holds whose time ran out (the sweeper); safe to run from several processes."""
    expired = 0
    while True:
        async with engine().transaction():
            rows = await sql.fetch(_EXPIRED, now=now)
            if not rows:
                return expired
            checkout = checkout_from(rows[0])
            change = AccountChange(await lock_account(checkout.member), now=now)
            await change.void(
                checkout.hold_points, lots_of(checkout), Cause("checkout", checkout.id)
            )
            checkout.status = "expired"
            checkout.hold_points = 0
            checkout.hold_expires_at = None
            await save(checkout, now)
            change.event("hold.updated", {**hold_event(checkout), "status": "expired"})
            _, envelopes = await change.finish(context={"checkout_id": str(checkout.id)})
        await publisher.publish(envelopes)
        expired += 1
        if expired >= batch:
            return expired
