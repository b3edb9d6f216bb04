"""HTTP for campaigns (staff) and offers (members)."""

from __future__ import annotations

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from backend.auth.access import ADMINS, MANAGERS, MEMBERS
from backend.campaigns.drafts import DraftCheck, check_draft
from backend.campaigns.forecast import Forecast, forecast_draft
from backend.campaigns.offers import MemberOffers, OfferOutcome
from backend.campaigns.schemas import CampaignIn, CampaignList, CampaignOut, OfferList, OfferOut
from backend.campaigns.service import CampaignAdmin, get_campaign
from backend.errors import Conflict, InsufficientPoints
from backend.http import (
    AnyRequest,
    IdempotencyKey,
    MemberRequest,
    PathId,
    answers,
    idempotent_answer,
    strict_body,
)
from backend.idempotency import check_key

# A campaign moves draft -> scheduled/active -> paused -> ended; other moves are 409.
MOVES = ADMINS | answers(Conflict)
Admin = NamedDependency[CampaignAdmin]


class AdminCampaignController(Controller):
    path = "/v1/admin/campaigns"
    tags = ["campaigns"]

    @get("/", opt=MANAGERS, summary="Every campaign, oldest first")
    async def list_campaigns(self, campaign_admin: Admin) -> CampaignList:
        return await campaign_admin.list()

    @post("/", opt=ADMINS, status_code=201, summary="Create a campaign (a draft)")
    async def create(
        self, request: AnyRequest, data: JSONBody[CampaignIn], campaign_admin: Admin
    ) -> CampaignOut:
        return await campaign_admin.create(await strict_body(request, CampaignIn))

    @post(
        "/check",
        opt=ADMINS,
        status_code=200,
        summary="Check a campaign being written (the create's own validation) and count the "
        "members its targeting reaches now; nothing is saved",
    )
    async def check(self, request: AnyRequest, data: JSONBody[CampaignIn]) -> DraftCheck:
        return await check_draft(await strict_body(request, CampaignIn))

    @post(
        "/forecast",
        opt=ADMINS,
        status_code=200,
        summary="Replay the last 30 days of stored sales under a campaign being written: the "
        "sales it would have touched, the points it would have cost; nothing is saved",
    )
    async def forecast(self, request: AnyRequest, data: JSONBody[CampaignIn]) -> Forecast:
        return await forecast_draft(await strict_body(request, CampaignIn))

    @get("/{campaign_id:uuid}", opt=MANAGERS, summary="One campaign")
    async def get_one(self, campaign_id: PathId) -> CampaignOut:
        return await get_campaign(campaign_id)

    @put("/{campaign_id:uuid}", opt=MOVES, summary="Replace a draft's content")
    async def edit_draft(
        self,
        request: AnyRequest,
        campaign_id: PathId,
        data: JSONBody[CampaignIn],
        campaign_admin: Admin,
    ) -> CampaignOut:
        return await campaign_admin.replace_draft(
            campaign_id, await strict_body(request, CampaignIn)
        )

    @post(
        "/{campaign_id:uuid}/schedule",
        opt=MOVES,
        status_code=200,
        summary="Take effect at starts_at",
    )
    async def schedule(self, campaign_id: PathId, campaign_admin: Admin) -> CampaignOut:
        return await campaign_admin.move(campaign_id, "scheduled")

    @post("/{campaign_id:uuid}/publish", opt=MOVES, status_code=200, summary="Take effect now")
    async def publish(self, campaign_id: PathId, campaign_admin: Admin) -> CampaignOut:
        return await campaign_admin.move(campaign_id, "active")

    @post("/{campaign_id:uuid}/pause", opt=MOVES, status_code=200, summary="Stop for now")
    async def pause(self, campaign_id: PathId, campaign_admin: Admin) -> CampaignOut:
        return await campaign_admin.move(campaign_id, "paused")

    @post("/{campaign_id:uuid}/end", opt=MOVES, status_code=200, summary="Stop for good")
    async def end(self, campaign_id: PathId, campaign_admin: Admin) -> CampaignOut:
        return await campaign_admin.move(campaign_id, "ended")


class MyOffersController(Controller):
    path = "/v1/me/offers"
    tags = ["me"]

    @get("/", opt=MEMBERS, summary="Offers open to me, and my coupons")
    async def list_offers(
        self, request: MemberRequest, member_offers: NamedDependency[MemberOffers]
    ) -> OfferList:
        return await member_offers.list_offers(request.user.member_id)

    @post(
        "/{campaign_id:uuid}/activate",
        opt=MEMBERS | answers(Conflict),
        status_code=200,
        summary="Opt in to an offer that must be activated",
    )
    async def activate(
        self,
        request: MemberRequest,
        campaign_id: PathId,
        member_offers: NamedDependency[MemberOffers],
    ) -> OfferOut:
        return await member_offers.activate(request.user.member_id, campaign_id)

    @post(
        "/{campaign_id:uuid}/redeem",
        opt=MEMBERS | answers(Conflict, InsufficientPoints),
        status_code=201,
        summary="Buy a catalogue reward with points: a one-time coupon",
    )
    async def redeem(
        self,
        request: MemberRequest,
        campaign_id: PathId,
        member_offers: NamedDependency[MemberOffers],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OfferOutcome]:
        outcome, replayed = await member_offers.buy_reward(
            request.user.member_id, campaign_id, key=check_key(idempotency_key)
        )
        return idempotent_answer(outcome, replayed, status_code=201)
