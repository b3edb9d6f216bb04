"""More kinds from the member streams: a tier reached upward, and an offer made for the
member going live, which is marketing and waits for the member's push consent."""

from __future__ import annotations

import uuid

import httpx
import time_machine

from backend.push.queue import PushPolicy, deliver_push_due, feed_push
from backend.streams.member import MEMBERS
from tests.backend.push.opening import consent_to_push, moscow, noon_with_a_browser
from tests.conftest import LiveServer
from tests.factories import buy, purchase_body


async def test_a_tier_up_and_a_consented_offer_are_pushed_in_the_members_language(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with noon_with_a_browser(client, live_server.sms) as (push, till, member):
        member_id = uuid.UUID(member.member_id)

        sale = await buy(client, till, purchase_body(member.card_number, amount=1_600_000))
        assert sale.status_code == 201, sale.text
        assert await feed_push() == 2  # the points, and gold reached

        # Going down tells nothing; an offer waits for the marketing consent.
        offer = {"campaign_id": str(uuid.uuid4()), "name": "Капучино за полцены"}
        await MEMBERS.append(
            member_id,
            [("tier.changed", {"from": "gold", "to": "green"}), ("offer.available", offer)],
        )
        assert await feed_push() == 0
        with time_machine.travel(moscow(16, 12, 2), tick=True):
            assert await feed_push() == 0  # read again (the settle minute): still no consent
        # Minutes later (past the feed's settle minute) the member consents; the next offer
        # is pushed, the first, refused then, is not asked again.
        with time_machine.travel(moscow(16, 12, 5), tick=True):
            await consent_to_push(client, member)
            second = {"campaign_id": str(uuid.uuid4()), "name": "Второй десерт в подарок"}
            await MEMBERS.append(member_id, [("offer.available", second)])
            assert await feed_push() == 1
            assert await deliver_push_due(push.providers, PushPolicy()) == 3
            # A stamp card completed (its coupon in the event) is a reward, not marketing.
            await consent_to_push(client, member, given=False)
            card = {
                "campaign_id": second["campaign_id"],
                "name": "Десятый кофе",
                "coupon_code": "K7Q2",
            }
            await MEMBERS.append(member_id, [("offer.available", card)])
            assert await feed_push() == 1
            assert await deliver_push_due(push.providers, PushPolicy()) == 1

    told = {
        received["payload"]["title"]: received["payload"] for received in push.web_push.received
    }
    assert told["Новый уровень: Золотой"]["body"] == "Поздравляем! Теперь ваш уровень — «Золотой»"
    assert told["Новое предложение для вас"]["body"] == "Второй десерт в подарок"
    assert told["Карточка заполнена — награда ваша"]["body"] == "Десятый кофе: купон K7Q2"
    assert len(told) == 4
