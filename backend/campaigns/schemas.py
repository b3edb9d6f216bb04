"""API shapes of campaigns and offers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from backend.campaigns.kinds import Rule
from backend.campaigns.limits import Period
from backend.campaigns.targeting import Targeting
from backend.campaigns.terms import CampaignTerms
from backend.local_time import ZoneName
from backend.text import FilledLine, Paragraph

Name = Annotated[FilledLine, msgspec.Meta(min_length=1, max_length=120)]
Description = Annotated[Paragraph, msgspec.Meta(max_length=500)]
# With a time zone: a naive time would be compared with aware ones (and mean nothing).
Moment = Annotated[datetime, msgspec.Meta(tz=True)]
# A wall-clock time without an offset, read in the campaign's ``time_zone``.
LocalMoment = Annotated[
    datetime,
    msgspec.Meta(
        tz=False,
        examples=["2027-03-01T07:00:00"],
        description="Wall-clock time in the campaign's time_zone, without an offset.",
    ),
]
Limit = Annotated[int, msgspec.Meta(ge=1, le=10**9)]


class CampaignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    rule: Rule  # {"type": "multiplier" | "bonus" | ..., ...the kind's fields}
    description: Description = ""
    targeting: Targeting = msgspec.field(default_factory=Targeting)
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    # Or the start and end as the wall clock in ``time_zone`` shows them (one or the other).
    starts_at_local: LocalMoment | None = None
    ends_at_local: LocalMoment | None = None
    time_zone: ZoneName | None = None
    priority: Annotated[int, msgspec.Meta(ge=-1000, le=1000)] = 0
    exclusive: bool = False
    requires_activation: bool = False
    per_member_limit: Limit | None = None
    per_member_period: Period | None = None
    total_limit: Limit | None = None


# A campaign as an admin reads it: its terms, and what only the admin sees of it.
class CampaignOut(CampaignTerms, frozen=True):
    description: str
    # The zone the schedule was given in, and the start and end on its wall clock.
    time_zone: Annotated[
        str | None,
        msgspec.Meta(description="The IANA zone starts_at_local and ends_at_local are in."),
    ]
    starts_at_local: Annotated[
        datetime | None, msgspec.Meta(description="starts_at on the wall clock of time_zone.")
    ]
    ends_at_local: Annotated[
        datetime | None, msgspec.Meta(description="ends_at on the wall clock of time_zone.")
    ]
    per_member_period: str | None
    uses: int
    created_at: datetime
    updated_at: datetime


class CampaignList(msgspec.Struct, frozen=True):
    items: list[CampaignOut]


class OfferOut(msgspec.Struct, frozen=True):
    """A campaign as a member sees it, or a coupon the member holds."""

    campaign_id: uuid.UUID
    name: str
    description: str
    kind: str
    status: str  # available, activated (must-activate offers), coupon
    requires_activation: bool
    ends_at: datetime | None
    coupon_code: str | None = None
    valid_until: datetime | None = None
    cost_points: int | None = None  # rewards: what the coupon costs


class OfferList(msgspec.Struct, frozen=True):
    items: list[OfferOut]


class StampCardProgress(msgspec.Struct, frozen=True):
    """A stamp card campaign the member collects on: stamps so far, of how many."""

    campaign_id: uuid.UUID
    name: str
    category: str
    stamps: int
    stamps_needed: int


class AppliedOffer(msgspec.Struct, frozen=True):
    """A campaign or coupon that changed this sale: points added, or money off."""

    campaign_id: uuid.UUID
    name: str
    kind: str
    points: int = 0
    discount: int = 0
    stamps: int = 0
