"""The terms a campaign runs by, declared once for its two views: the cached copy that a
sale evaluates (``catalogue.LiveCampaign``) and what an admin reads (``schemas.CampaignOut``)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from backend.campaigns.kinds import Rule
from backend.campaigns.targeting import Targeting


class CampaignTerms(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    kind: str
    rule: Rule
    targeting: Targeting
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int
    exclusive: bool
    requires_activation: bool
    per_member_limit: int | None
    total_limit: int | None
