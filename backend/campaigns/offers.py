"""Offers as a member sees them: what is on, activation, rewards bought with points,
coupons, stamp cards, and the welcome bonus at enrolment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from backend.accounting.documents import program_day, record_document
from backend.campaigns.at_sale import issue_coupon, load_shopper, offer_event
from backend.campaigns.catalogue import Catalogue, LiveCampaign, load_live_campaigns
from backend.campaigns.engine import MemberUsage
from backend.campaigns.kinds import PURCHASE_KINDS, Reward, StampCard, Welcome
from backend.campaigns.limits import counting_period, used_up
from backend.campaigns.schemas import OfferList, OfferOut, StampCardProgress
from backend.campaigns.total_limit import take_one
from backend.campaigns.usage import load_usage
from backend.errors import Conflict, NotFound
from backend.idempotency import request_fingerprint, run_once
from backend.local_time import local_date, zone
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import current_rules
from db import sql
from realtime.publisher import EventPublisher, Outgoing

LISTED_KINDS = PURCHASE_KINDS | {"reward"}


class OfferOutcome(msgspec.Struct, frozen=True):
    offer: OfferOut
    points_spent: int = 0


@dataclass(frozen=True, kw_only=True)
class MemberOffers:
    catalogue: Catalogue
    publisher: EventPublisher
    program_time_zone: str

    async def _open_to(
        self, member_id: uuid.UUID, now: datetime
    ) -> tuple[list[LiveCampaign], MemberUsage]:
        """Campaigns in effect whose audience includes the member (any store, any hour),
        whose limit for the member is not used up (for good, in the current period of their
        calendar, or for this birthday), and the member's usage they were judged with."""
        shopper = await load_shopper(member_id)
        usage = await load_usage(member_id)
        today = local_date(now, zone(shopper.time_zone or self.program_time_zone))
        found = []
        for campaign in await self.catalogue.live():
            if campaign.kind not in LISTED_KINDS or not campaign.in_effect(now):
                continue
            if not campaign.targeting.admits(shopper, now):
                continue
            if used_up(campaign, usage, counting_period(campaign, shopper, today)):
                continue
            found.append(campaign)
        return found, usage

    async def _find_open(
        self, member_id: uuid.UUID, campaign_id: uuid.UUID, now: datetime
    ) -> LiveCampaign | None:
        campaigns, _ = await self._open_to(member_id, now)
        return next((c for c in campaigns if c.id == campaign_id), None)

    async def list_offers(self, member_id: uuid.UUID) -> OfferList:
        now = datetime.now(UTC)
        campaigns, usage = await self._open_to(member_id, now)
        items = [
            _offer(c, "activated" if str(c.id) in usage.activated else "available")
            for c in campaigns
        ]
        coupons = await sql.fetch(
            "SELECT o.coupon_code, o.valid_until, c.id, c.name, c.description, c.kind, c.ends_at "
            "FROM member_offer o JOIN campaign c ON c.id = o.campaign "
            "WHERE o.member = {member_id} AND o.coupon_code IS NOT NULL "
            "AND o.status = 'available' AND o.valid_until > {now} ORDER BY o.valid_until",
            member_id=member_id,
            now=now,
        )
        items += [
            OfferOut(
                campaign_id=row["id"],
                name=row["name"],
                description=row["description"],
                kind=row["kind"],
                status="coupon",
                requires_activation=False,
                ends_at=row["ends_at"],
                coupon_code=row["coupon_code"],
                valid_until=row["valid_until"],
            )
            for row in coupons
        ]
        return OfferList(items=items)

    async def activate(self, member_id: uuid.UUID, campaign_id: uuid.UUID) -> OfferOut:
        """Opt in to a must-be-activated offer (again: no change)."""
        now = datetime.now(UTC)
        campaign = await self._find_open(member_id, campaign_id, now)
        if campaign is None:
            raise NotFound(f"offer {campaign_id} is not open to you")
        if not campaign.requires_activation:
            raise Conflict("this offer applies by itself; it needs no activation")
        await sql.fetch(
            "INSERT INTO member_offer (id, campaign, member, status, uses, created_at, updated_at)"
            " SELECT {id}, {campaign_id}, {member_id}, 'activated', 0, {now}, {now}"
            " WHERE NOT EXISTS (SELECT 1 FROM member_offer"
            " WHERE member = {member_id} AND campaign = {campaign_id} AND coupon_code IS NULL)",
            id=uuid.uuid4(),
            campaign_id=campaign_id,
            member_id=member_id,
            now=now,
        )
        return _offer(campaign, "activated")

    async def buy_reward(
        self, member_id: uuid.UUID, campaign_id: uuid.UUID, *, key: str
    ) -> tuple[OfferOutcome, bool]:
        """Spend the reward's points on a one-time coupon."""

        async def work() -> tuple[OfferOutcome, list[Outgoing]]:
            now = datetime.now(UTC)
            campaign = await self._find_open(member_id, campaign_id, now)
            if campaign is None or not isinstance(campaign.rule, Reward):
                raise NotFound(f"reward {campaign_id} is not open to you")
            rule = campaign.rule
            if campaign.total_limit is not None and not await take_one(campaign_id, member_id):
                raise Conflict("this reward has run out")
            change = AccountChange(await lock_account(member_id), now=now)
            cause = Cause("campaign", campaign_id, f"reward: {campaign.name}")
            await change.redeem(rule.cost_points, cause)  # InsufficientPoints: 422
            coupon = await issue_coupon(campaign_id, member_id, now=now, valid_days=rule.valid_days)
            await record_document(
                type="points_redemption",
                reference=coupon.id,
                occurred_at=now,
                business_date=program_day(now),  # bought in the app, not in a store
                points_redeemed=rule.cost_points,
                points_liability_delta=-rule.cost_points,
            )
            change.event("offer.available", offer_event(campaign_id, campaign.name, coupon))
            _, events = await change.finish(context={"campaign_id": str(campaign_id)})
            offer = _offer(campaign, "coupon")
            offer = msgspec.structs.replace(
                offer, coupon_code=coupon.coupon_code, valid_until=coupon.valid_until
            )
            return OfferOutcome(offer=offer, points_spent=rule.cost_points), events

        return await run_once(
            scope=f"member:{member_id}",
            key=key,
            fingerprint=request_fingerprint(msgspec.json.encode(["reward", campaign_id])),
            work=work,
            response_type=OfferOutcome,
            publish=self.publisher.publish,
            status=201,
        )

    async def stamp_cards(self, member_id: uuid.UUID) -> list[StampCardProgress]:
        now = datetime.now(UTC)
        shopper = await load_shopper(member_id)
        return [
            StampCardProgress(
                campaign_id=c.id,
                name=c.name,
                category=c.rule.category,
                stamps=shopper.stamps.get(str(c.id), 0),
                stamps_needed=c.rule.stamps_needed,
            )
            for c in await self.catalogue.live()
            if isinstance(c.rule, StampCard)
            and c.in_effect(now)
            and c.targeting.admits(shopper, now)
        ]


async def welcome(change: AccountChange) -> list[str]:
    """Credit the welcome bonus of every welcome campaign in effect; inside enrolment.

    Reads the campaigns table itself: enrolment is rare, and it has no catalogue at hand.
    """
    rules = (await current_rules()).rules
    given = []
    for campaign in await load_live_campaigns():
        if not isinstance(campaign.rule, Welcome) or not campaign.in_effect(change.now):
            continue
        if campaign.total_limit is not None and not await take_one(
            campaign.id, change.account.member_id
        ):
            continue
        points = campaign.rule.points
        await change.credit(
            "bonus", points, Cause("campaign", campaign.id, f"welcome: {campaign.name}"), rules
        )
        await record_document(
            type="points_adjustment",
            reference=change.account.member_id,
            occurred_at=change.now,
            business_date=program_day(change.now),  # given at enrolment, not in a store
            points_issued=points,
            points_liability_delta=points,
        )
        given.append(campaign.name)
    return given


def _offer(campaign: LiveCampaign, status: str) -> OfferOut:
    return OfferOut(
        campaign_id=campaign.id,
        name=campaign.name,
        description=campaign.description,
        kind=campaign.kind,
        status=status,
        requires_activation=campaign.requires_activation,
        ends_at=campaign.ends_at,
        cost_points=campaign.rule.cost_points if isinstance(campaign.rule, Reward) else None,
    )
