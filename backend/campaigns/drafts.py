"""A campaign being written in the console, checked before it is saved: the engine's own
validation (the same messages a create would answer) and how many members its targeting
reaches now. Nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from backend.campaigns.live import AUDIENCE_FROM, audience_conditions
from backend.campaigns.schemas import CampaignIn
from backend.campaigns.service import check_campaign
from db import sql


class DraftCheck(msgspec.Struct, frozen=True):
    # Members the targeting reaches now (its tiers and segment; days, hours and stores say
    # when and where, not who).
    audience: int
    everyone: bool


async def check_draft(campaign: CampaignIn) -> DraftCheck:
    now = datetime.now(UTC)
    check_campaign(campaign, now=now)
    where, params = audience_conditions(campaign.targeting, now)
    # A count over the members for a person at a form, on the replica when there is one.
    rows = await sql.fetch_lagging(
        f"SELECT count(*) AS n FROM ({AUDIENCE_FROM} WHERE {where}) AS audience",  # noqa: S608
        **params,
    )
    return DraftCheck(audience=rows[0]["n"], everyone=campaign.targeting.everyone)
