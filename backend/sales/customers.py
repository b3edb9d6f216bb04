"""Who a till's sale is for: the member named by a card number or a single-use QR token."""

from __future__ import annotations

import uuid

from backend.errors import MemberNotFound, ValidationFailed
from backend.members.card_numbers import is_valid_card_number
from backend.members.cards import refuse_if_blocked
from backend.members.qr import QrTokens
from backend.sales.schemas import Customer
from db.tables import Member


class Unread:
    """Not read yet (as opposed to None: read, and there is none)."""


UNREAD = Unread()


class CustomerResolver:
    def __init__(self, *, qr_tokens: QrTokens) -> None:
        self._qr_tokens = qr_tokens

    async def identify(
        self, customer: Customer, *, card_holder: uuid.UUID | Unread | None = UNREAD
    ) -> uuid.UUID:
        """The member a till names, by card or by single-use QR token. ``card_holder``:
        the member with that card number, when the caller already read it (None: nobody)."""
        if (customer.card_number is None) == (customer.qr_token is None):
            raise ValidationFailed("customer needs exactly one of card_number and qr_token")
        if customer.qr_token is not None:
            member_id = await self._qr_tokens.consume(customer.qr_token)
            if member_id is None:
                raise MemberNotFound("the QR token is unknown, expired or already used")
            return member_id
        assert customer.card_number is not None
        if not is_valid_card_number(customer.card_number):
            raise ValidationFailed("card_number fails its check digit")
        if isinstance(card_holder, Unread):
            row = (
                await Member.select(Member.id)
                .where(Member.card_number == customer.card_number)
                .first()
            )
            card_holder = None if row is None else uuid.UUID(str(row["id"]))
        if card_holder is None:
            await refuse_if_blocked(customer.card_number)  # a lost card: say so, name nobody
            raise MemberNotFound("no member has this card number")
        return card_holder
