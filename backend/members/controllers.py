"""HTTP for members: their own data; staff's lookup of a member and adjustments by hand."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from backend.auth.access import MANAGERS, MEMBERS, STAFF
from backend.campaigns.offers import MemberOffers
from backend.errors import CardBlocked, Conflict, InsufficientPoints, MemberNotFound
from backend.http import (
    NO_STORE,
    Cursor,
    IdempotencyKey,
    MemberRequest,
    PathId,
    StaffRequest,
    answers,
    idempotent_answer,
    strict_body,
)
from backend.idempotency import check_key
from backend.loyalty.adjustments import (
    AdjustmentLimits,
    AdjustmentRequest,
    AdjustmentResponse,
    adjust_points,
)
from backend.members.cards import replace_card
from backend.members.consents import change_consents, consents_of
from backend.members.qr import QrTokens, qr_svg
from backend.members.schemas import (
    BirthDateCorrection,
    CardReplaced,
    CardReplacement,
    Consents,
    ConsentUpdate,
    MemberSummary,
    MeResponse,
    ProfileUpdate,
    QrTokenResponse,
    TransactionPage,
)
from backend.members.service import (
    PAGE_MAX,
    LookUp,
    correct_birth_date,
    find_member,
    get_profile,
    list_transactions,
    member_summary,
    update_profile,
    view_member,
)
from realtime.publisher import EventPublisher

TransactionLimit = Annotated[int, QueryParameter(ge=1, le=PAGE_MAX)]


class MeController(Controller):
    path = "/v1/me"
    tags = ["me"]

    @get("/", opt=MEMBERS, summary="The member's profile, card, tier and balance")
    async def get_me(
        self,
        request: MemberRequest,
        member_offers: NamedDependency[MemberOffers],
        program_time_zone: NamedDependency[str],
    ) -> MeResponse:
        return await _profile(request.user.member_id, member_offers, program_time_zone)

    @patch(
        "/",
        opt=MEMBERS | answers(Conflict),
        summary="Change the time zone, or give the birth date (once; staff correct it later)",
    )
    async def update_me(
        self,
        request: MemberRequest,
        data: JSONBody[ProfileUpdate],
        member_offers: NamedDependency[MemberOffers],
        program_time_zone: NamedDependency[str],
    ) -> MeResponse:
        update = await strict_body(request, ProfileUpdate)
        await update_profile(request.user.member_id, update)
        return await _profile(request.user.member_id, member_offers, program_time_zone)

    @post(
        "/card/replace",
        opt=MEMBERS | answers(Conflict),
        status_code=200,
        summary="Block a lost card and issue a new number (points, tier and history follow)",
    )
    async def replace_card(
        self, request: MemberRequest, data: JSONBody[CardReplacement]
    ) -> CardReplaced:
        body = await strict_body(request, CardReplacement)
        return await replace_card(request.user.member_id, body.card_number)

    @get("/consents", opt=MEMBERS, summary="Marketing consent per channel, and history")
    async def get_consents(self, request: MemberRequest) -> Consents:
        return await consents_of(request.user.member_id)

    @put(
        "/consents",
        opt=MEMBERS,
        summary="Give or withdraw marketing consent per channel (push, sms, email)",
    )
    async def change_consents(
        self, request: MemberRequest, data: JSONBody[ConsentUpdate]
    ) -> Consents:
        body = await strict_body(request, ConsentUpdate)
        return await change_consents(request.user.member_id, body, source="app")

    @get("/transactions", opt=MEMBERS, summary="Ledger history, newest first")
    async def list_transactions(
        self, request: MemberRequest, limit: TransactionLimit = 20, cursor: Cursor = None
    ) -> TransactionPage:
        return await list_transactions(request.user.member_id, limit=limit, cursor=cursor)

    @get(
        "/qr",
        opt=MEMBERS,
        summary="A short-lived, single-use token for the POS to scan",
        cache_control=NO_STORE,
    )
    async def get_qr(
        self, request: MemberRequest, qr_tokens: NamedDependency[QrTokens]
    ) -> QrTokenResponse:
        token = await qr_tokens.issue(request.user.member_id)
        return QrTokenResponse(qr_token=token, expires_in=qr_tokens.ttl_s)

    @get(
        "/qr.svg",
        opt=MEMBERS,
        summary="The same token drawn as a QR code (SVG) for the card on screen",
        cache_control=NO_STORE,
        media_type="image/svg+xml",
    )
    async def get_qr_svg(
        self, request: MemberRequest, qr_tokens: NamedDependency[QrTokens]
    ) -> Response[bytes]:
        token = await qr_tokens.issue(request.user.member_id)
        return Response(
            qr_svg(token),
            media_type="image/svg+xml",
            headers={"X-Expires-In": str(qr_tokens.ttl_s)},
        )


async def _profile(
    member_id: uuid.UUID, member_offers: MemberOffers, program_time_zone: str
) -> MeResponse:
    profile = await get_profile(member_id, program_time_zone=program_time_zone)
    cards = await member_offers.stamp_cards(member_id)
    return msgspec.structs.replace(profile, stamp_cards=cards)


class AdminMembersController(Controller):
    path = "/v1/admin/members"
    tags = ["admin"]

    @get(
        "/",
        opt=STAFF | answers(MemberNotFound, CardBlocked),
        summary="Find a member by card number or the app's QR code (single use), or by phone "
        "(managers and admins; baristas only where ASTROCOFFEE_BARISTA_PHONE_LOOKUP allows); "
        "a card blocked as lost: card_blocked",
    )
    async def find(
        self,
        request: StaffRequest,
        barista_phone_lookup: NamedDependency[bool],
        qr_tokens: NamedDependency[QrTokens],
        phone: Annotated[str | None, QueryParameter(max_length=20)] = None,
        card_number: Annotated[str | None, QueryParameter(max_length=16)] = None,
        qr_token: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> MemberSummary:
        return await find_member(
            caller=request.user,
            by=LookUp(phone=phone, card_number=card_number, qr_token=qr_token),
            qr_tokens=qr_tokens,
            barista_phone_lookup=barista_phone_lookup,
        )

    @get(
        "/{member_id:uuid}",
        opt=STAFF | answers(MemberNotFound),
        summary="One member's card, tier and balance",
    )
    async def get_member(self, member_id: PathId) -> MemberSummary:
        return await view_member(member_id)

    @get(
        "/{member_id:uuid}/transactions",
        opt=STAFF | answers(MemberNotFound),
        summary="One member's ledger history, newest first (the console's member page)",
    )
    async def member_transactions(
        self, member_id: PathId, limit: TransactionLimit = 20, cursor: Cursor = None
    ) -> TransactionPage:
        await view_member(member_id)  # an unknown or erased member: 404, not an empty page
        return await list_transactions(member_id, limit=limit, cursor=cursor)

    @patch(
        "/{member_id:uuid}/birth-date",
        opt=MANAGERS | answers(MemberNotFound),
        summary="Correct a member's birth date (members give theirs only once)",
    )
    async def correct_birth_date(
        self, request: StaffRequest, member_id: PathId, data: JSONBody[BirthDateCorrection]
    ) -> MemberSummary:
        body = await strict_body(request, BirthDateCorrection)
        await correct_birth_date(member_id, body.birth_date)
        return await member_summary(member_id)

    @post(
        "/{member_id:uuid}/card/replace",
        opt=STAFF | answers(MemberNotFound, Conflict),
        status_code=200,
        summary="Block a member's lost card and issue a new number (audited)",
    )
    async def replace_card(
        self, request: StaffRequest, member_id: PathId, data: JSONBody[CardReplacement]
    ) -> CardReplaced:
        body = await strict_body(request, CardReplacement)
        return await replace_card(member_id, body.card_number, staff_id=request.user.staff_id)

    @post(
        "/{member_id:uuid}/adjustments",
        opt=MANAGERS | answers(MemberNotFound, InsufficientPoints),
        status_code=201,
        summary="Add or remove points by hand; the reason is recorded on the ledger",
        description="A manager adjusts only members who bought in one of their stores. Above "
        "their limits (ASTROCOFFEE_ADJUSTMENT_MAX_POINTS per adjustment, "
        "ASTROCOFFEE_ADJUSTMENT_DAILY_POINTS per day) the answer says `pending_approval`: "
        "nothing reaches the ledger until another manager of those stores or an admin "
        "approves it (`/v1/admin/adjustment-approvals`).",
    )
    async def adjust(
        self,
        request: StaffRequest,
        member_id: PathId,
        data: JSONBody[AdjustmentRequest],
        publisher: NamedDependency[EventPublisher],
        adjustment_limits: NamedDependency[AdjustmentLimits],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AdjustmentResponse]:
        response, replayed = await adjust_points(
            staff=request.user,
            member_id=member_id,
            request=await strict_body(request, AdjustmentRequest),
            key=check_key(idempotency_key),
            publisher=publisher,
            limits=adjustment_limits,
        )
        return idempotent_answer(response, replayed, status_code=201)
