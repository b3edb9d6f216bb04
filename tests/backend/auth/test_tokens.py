from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt

from backend.auth.tokens import ALGORITHM, ISSUER
from backend.settings import DEV_SECRET_KEY
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, hire, log_in


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def me(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def end_session(
    client: httpx.AsyncClient, caller: LoggedInMember, device: LoggedInMember
) -> httpx.Response:
    """``caller`` ends the session that ``device`` signed in with."""
    session_id = device.refresh_token.partition(".")[0]
    return await client.delete(f"/v1/me/sessions/{session_id}", headers=caller.headers)


async def test_expired_forged_and_unsigned_tokens_are_refused(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    claims = jwt.decode(member.access_token, options={"verify_signature": False})
    assert await me(client, member.access_token) == 200

    expired = jwt.encode(
        {**claims, "exp": datetime.now(UTC) - timedelta(seconds=1)}, DEV_SECRET_KEY, ALGORITHM
    )
    forged = jwt.encode(claims, "some-other-secret-of-enough-length", ALGORITHM)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    wrong_issuer = jwt.encode({**claims, "iss": "elsewhere"}, DEV_SECRET_KEY, ALGORITHM)
    tampered = member.access_token[:-2] + ("AA" if member.access_token[-2:] != "AA" else "BB")
    for token in (expired, forged, unsigned, wrong_issuer, tampered, "x", "a.b.c"):
        assert await me(client, token) == 401, token
    assert claims["iss"] == ISSUER


async def test_a_staff_token_does_not_open_member_routes_nor_the_reverse(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    admin = await hire(client, "admin")
    member = await log_in(client, live_server.sms)
    assert (await client.get("/v1/me", headers=admin.headers)).status_code == 403
    assert (await client.get("/v1/admin/staff", headers=member.headers)).status_code == 403


async def test_a_member_sees_and_ends_their_device_sessions(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    phone_app = await log_in(client, live_server.sms)
    laptop = await log_in(client, live_server.sms, phone=phone_app.phone)
    listed = (await client.get("/v1/me/sessions", headers=phone_app.headers)).json()["items"]
    assert len(listed) == 2
    assert sum(1 for s in listed if s["current"]) == 1

    ended = await end_session(client, phone_app, laptop)
    assert ended.status_code == 204
    assert await me(client, laptop.access_token) == 401
    assert await me(client, phone_app.access_token) == 200


async def test_a_member_cannot_end_another_members_session(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    alice = await log_in(client, live_server.sms)
    bob = await log_in(client, live_server.sms)
    response = await end_session(client, alice, bob)
    assert response.status_code == 404
    assert await me(client, bob.access_token) == 200


async def test_staff_refresh_rotates_too(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    assert rotated.status_code == 200
    assert rotated.json()["role"] == "admin"
    assert rotated.json()["staff_id"] == admin.staff_id
