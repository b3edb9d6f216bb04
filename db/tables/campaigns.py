"""Campaigns and the offers they make to members."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Boolean, Date, Integer, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member
from db.tables.references import reference


class Campaign(Table, tablename="campaign"):
    """A promotion: a rule of one kind, who and when it targets, limits, and its lifecycle."""

    id = UUID(primary_key=True, default=new_id)
    name = Varchar(length=120)
    description = Varchar(length=500, default="")
    kind = Varchar(length=20)
    rule = JSONB(help_text="The kind's parameters (backend.campaigns.kinds).")
    targeting = JSONB(
        help_text="Tiers, stores, days, hours, segment (backend.campaigns.targeting)."
    )
    status = Varchar(length=12, help_text="draft, scheduled, active, paused, ended.")
    starts_at = Timestamptz(null=True, default=None)
    ends_at = Timestamptz(null=True, default=None)
    schedule_time_zone = Varchar(
        length=64,
        null=True,
        default=None,
        help_text="The IANA zone the start and end were given in (shown back in it).",
    )
    priority = Integer(default=0)
    exclusive = Boolean(default=False)
    requires_activation = Boolean(default=False)
    per_member_limit = Integer(null=True, default=None)
    per_member_period = Varchar(
        length=8,
        null=True,
        default=None,
        help_text="day, week, month, year (the member's calendar); NULL: the whole life.",
    )
    total_limit = Integer(
        null=True,
        default=None,
        help_text="Uses allowed in all; counted in campaign_limit_share, not on this row.",
    )
    created_at = Timestamptz()
    updated_at = Timestamptz()

    known_campaign_status = Check("status IN ('draft', 'scheduled', 'active', 'paused', 'ended')")
    known_member_period = Check("per_member_period IN ('day', 'week', 'month', 'year')")


class CampaignLimitShare(Table, tablename="campaign_limit_share"):
    """One of the shares a campaign's total limit is counted in
    (``backend.campaigns.total_limit``): a sale takes a use from one share, so that sales
    applying the same campaign lock different rows instead of all waiting for one. The
    campaign's uses are the sum of ``taken``; what it has left, the sum of
    ``quota - taken``."""

    id = UUID(primary_key=True, default=new_id)
    campaign = reference(Campaign)
    share = Integer(help_text="0 to SHARES - 1.")
    taken = Integer(default=0, help_text="Uses counted in this share.")
    quota = Integer(default=0, help_text="Uses this share may count (its part of the limit).")

    one_per_campaign_share = Unique(["campaign", "share"])
    taken_within_quota = Check("taken >= 0 AND taken <= quota")


class MemberOffer(Table, tablename="member_offer"):
    """A campaign as one member holds it: activated, used so many times, or a coupon."""

    id = UUID(primary_key=True, default=new_id)
    campaign = reference(Campaign)
    member = reference(Member, index=True)
    status = Varchar(length=12, help_text="available, activated, used, expired.")
    uses = Integer(default=0)
    period_start = Date(
        null=True,
        default=None,
        help_text="The first day of the period (or the birthday) period_uses counts in.",
    )
    period_uses = Integer(default=0)
    coupon_code = Varchar(length=16, null=True, default=None, unique=True)
    valid_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()

    known_offer_status = Check("status IN ('available', 'activated', 'used', 'expired')")


class CampaignTelling(Table, tablename="campaign_telling"):
    """A campaign's start or end being told to its targeted audience, a batch of members at a
    time (``backend.campaigns.telling``): the member reached so far moves in each batch's own
    transaction, so a crash never tells a member twice nor skips one."""

    id = UUID(primary_key=True, default=new_id)
    campaign = reference(Campaign, index=True)
    type = Varchar(length=40, help_text="offer.available or offer.expired.")
    data = JSONB(help_text="The event's data, as the campaign was when it changed.")
    audience_at = Timestamptz(help_text="The moment the audience's conditions are judged at.")
    reached = UUID(
        null=True, default=None, help_text="The last member id told so far; NULL: none yet."
    )
    told = Integer(default=0, help_text="Members told so far.")
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
