from __future__ import annotations

import httpx

from db.tables import Account, Member
from tests.conftest import LiveServer
from tests.factories import log_in, unique_phone


async def test_first_login_enrols_the_member_with_a_card_and_an_account(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    assert len(member.card_number) == 16
    assert await Member.count().where(Member.phone == member.phone) == 1
    assert await Account.count() == 1

    me = (await client.get("/v1/me", headers=member.headers)).json()
    assert me["member_id"] == member.member_id
    assert me["card_number"] == member.card_number
    assert me["tier"] == "green"
    assert me["balance"] == {"available": 0, "pending": 0, "held": 0}
    assert me["progress"] == {
        "qualifying_spend": 0,
        "next_tier": "gold",
        "spend_to_next_tier": 1_500_000,
    }
    assert me["expiring_soon"] == {"points": 0, "first_expires_at": None, "within_days": 30}


async def test_second_login_finds_the_same_member(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    first = await log_in(client, live_server.sms)
    second = await log_in(client, live_server.sms, phone=first.phone)
    assert second.member_id == first.member_id
    assert await Member.count() == 1


async def test_wrong_code_is_refused_and_enrols_nobody(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    phone = unique_phone()
    await client.post("/v1/auth/otp", json={"phone": phone})
    wrong = "000000" if live_server.sms.codes[phone] != "000000" else "111111"
    response = await client.post("/v1/auth/token", json={"phone": phone, "code": wrong})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_otp"
    assert await Member.count() == 0


async def test_a_code_works_once(client: httpx.AsyncClient, live_server: LiveServer) -> None:
    member = await log_in(client, live_server.sms)
    code = live_server.sms.codes[member.phone]
    again = await client.post("/v1/auth/token", json={"phone": member.phone, "code": code})
    assert again.status_code == 401


async def test_attempts_are_limited_even_for_the_right_code(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    phone = unique_phone()
    await client.post("/v1/auth/otp", json={"phone": phone})
    right = live_server.sms.codes[phone]
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        await client.post("/v1/auth/token", json={"phone": phone, "code": wrong})
    response = await client.post("/v1/auth/token", json={"phone": phone, "code": right})
    assert response.status_code == 401
    assert "too many attempts" in response.json()["detail"]


async def test_malformed_phone_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/otp", json={"phone": "12345"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_failed"


async def test_refresh_rotates_and_reuse_revokes_the_session(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["refresh_token"] != member.refresh_token

    reused = await client.post("/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert reused.status_code == 401
    # The leak revoked the whole session: the rotated token and its access token die too.
    after = await client.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert after.status_code == 401
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert me.status_code == 401


async def test_logout_revokes_the_access_token_at_once(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    assert (await client.post("/v1/auth/logout", headers=member.headers)).status_code == 204
    assert (await client.get("/v1/me", headers=member.headers)).status_code == 401


async def test_me_needs_a_valid_member_token(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/me")
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthorized"
    forged = await client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code == 401
