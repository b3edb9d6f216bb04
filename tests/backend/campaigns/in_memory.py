"""What the in-memory campaign tests (kinds, targeting, engine) share: a shopper as the
engine sees one, and the rules more than one of them awards with."""

from __future__ import annotations

from datetime import date, datetime

from backend.campaigns.kinds import Reward, Shopper, StampCard

COFFEE_CARD = StampCard(category="coffee", stamps_needed=6, reward_max_value=300)
COFFEE_REWARD = Reward(cost_points=100, category="coffee", max_value=300)


def shopper(
    *,
    tier: str = "green",
    visits: int = 3,
    last_visit_at: datetime | None = None,
    favourite_category: str | None = None,
    birth_date: date | None = None,
) -> Shopper:
    return Shopper(
        member_id="m",
        tier=tier,
        visits=visits,
        last_visit_at=last_visit_at,
        favourite_category=favourite_category,
        birth_date=birth_date,
    )
