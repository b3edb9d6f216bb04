"""The hot statements of a targeted campaign's telling (``backend.campaigns.telling``): the
window of members a batch covers, and the batch told, for each kind of targeting. Part of
``devkit.hot_statements``' catalogue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from devkit.hot_statements import HotStatement, Sample


def campaign_telling(telling: Any) -> list[HotStatement]:
    """A targeted campaign's telling: the window of members a batch covers, and the batch
    told (its audience's events and seq bumps) for a targeting by tiers and by every segment
    condition, between the sample member and the end of the chain."""
    from backend.campaigns.targeting import Segment, Targeting
    from backend.streams.member import each_statement

    def told(targeting: Targeting) -> HotStatement:
        audience, _ = telling.audience_window(targeting, datetime.now(UTC), [])

        def params(s: Sample) -> dict[str, Any]:
            # A whole batch's window: the sample member and ids of nobody (the planner
            # sees a batch's size).
            window = [s.member_id, *(uuid.uuid4() for _ in range(telling.BATCH - 1))]
            _, values = telling.audience_window(targeting, s.now, window)
            return {**values, "type": "offer.available", "data": "{}", "now": s.now}

        return HotStatement(
            f"campaign telling: a batch of the audience told ({targeting.tiers or 'segment'})",
            frozenset({"account_member_key"}),
            template=each_statement(audience),
            params=params,
            writes=True,
        )

    return [
        HotStatement(
            "campaign telling: the window of a batch",
            frozenset({"account_member_key"}),
            template=telling._WINDOW,
            params=lambda s: {"after": s.member_id, "batch": telling.BATCH},
        ),
        told(Targeting(tiers=["gold", "platinum"])),
        told(
            Targeting(
                segment=Segment(
                    min_visits=3, max_visits=50, inactive_for_days=30, favourite_category="coffee"
                )
            )
        ),
        told(Targeting(segment=Segment(visited_within_days=30))),
    ]
