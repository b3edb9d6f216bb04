"""How far the delivery feeds have read the member streams (``backend.deliveries.feed``); the
partner feed's own position table is beside its other tables (``db.tables.partners``)."""

from __future__ import annotations

from piccolo.columns import UUID, BigInt
from piccolo.table import Table


class PushFeedPosition(Table, tablename="push_feed_position"):
    """The seq of the newest event of a member's stream that the push feed has read."""

    member = UUID(primary_key=True, default=None)
    seq = BigInt(default=0)
