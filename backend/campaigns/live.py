"""Who hears of an offer as it comes and goes (``offer.available``, ``offer.expired``), and
what they are told.

A campaign for every member is one broadcast event (stored once, fanned out by the hub to
every member socket). A targeted one (tiers, segment) gets one member event per member of
its audience, told in batches of members by ``backend.campaigns.telling``, each batch's
audience computed in the database by set-based statements (the seq bump and the insert),
never a query per member or per device; the hubs then deliver to whichever of those members
are connected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.targeting import Targeting

# The members a targeting can match, with what the segment reads about them.
AUDIENCE_FROM = (
    "SELECT a.member FROM account a JOIN member m ON m.id = a.member "
    "LEFT JOIN member_stats s ON s.member = a.member"
)


def audience_conditions(targeting: Targeting, at: datetime) -> tuple[str, dict[str, Any]]:
    """The WHERE clause matching the audience of ``targeting`` at ``at``, and its parameters."""
    conditions = ["TRUE"]
    params: dict[str, Any] = {}
    if targeting.tiers:
        conditions.append("m.tier = ANY({tiers})")
        params["tiers"] = list(targeting.tiers)
    segment = targeting.segment
    if segment is not None:
        if segment.min_visits is not None:
            conditions.append("COALESCE(s.visits, 0) >= {min_visits}")
            params["min_visits"] = segment.min_visits
        if segment.max_visits is not None:
            conditions.append("COALESCE(s.visits, 0) <= {max_visits}")
            params["max_visits"] = segment.max_visits
        if segment.visited_within_days is not None:
            conditions.append(
                "s.last_visit_at >= {at}::timestamptz - make_interval(days => {within_days})"
            )
            params.update(at=at, within_days=segment.visited_within_days)
        if segment.inactive_for_days is not None:
            conditions.append(
                "(s.last_visit_at IS NULL OR s.last_visit_at <= {at}::timestamptz"
                " - make_interval(days => {inactive_days}))"
            )
            params.update(at=at, inactive_days=segment.inactive_for_days)
        if segment.favourite_category is not None:
            # The category bought most often (ties: the first by name), as the engine says.
            conditions.append(
                "(SELECT key FROM jsonb_each_text(s.category_counts) "
                "ORDER BY value::bigint DESC, key DESC LIMIT 1) = {favourite_category}"
            )
            params["favourite_category"] = segment.favourite_category
    return " AND ".join(conditions), params


def offer_data(campaign: LiveCampaign) -> dict[str, Any]:
    return {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "kind": campaign.kind,
        "requires_activation": campaign.requires_activation,
        "ends_at": campaign.ends_at.isoformat() if campaign.ends_at else None,
    }
