"""A member's devices and notification settings over the API."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from backend.push.devices import DEVICES_KEPT
from backend.push.preferences import KINDS
from tests.backend.push.samples import web_push_subscription
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, assert_problem, log_in
from tests.rows import tuples

APNS_TOKEN = "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"
FCM_TOKEN = "dGhpcy1pcy1hbi1mY20tdG9rZW4:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


async def register(
    client: httpx.AsyncClient, member: LoggedInMember, body: dict[str, object]
) -> httpx.Response:
    return await client.post("/v1/me/devices", headers=member.headers, json=body)


async def stored() -> list[tuple[Any, ...]]:
    return await tuples("SELECT provider, token FROM member_device ORDER BY provider")


async def test_a_member_registers_lists_and_removes_devices(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    web = await register(
        client, member, {"provider": "webpush", "subscription": web_push_subscription()}
    )
    fcm = await register(client, member, {"provider": "fcm", "token": FCM_TOKEN})
    apns = await register(client, member, {"provider": "apns", "token": APNS_TOKEN})
    assert [r.status_code for r in (web, fcm, apns)] == [201, 201, 201]
    assert web.json()["label"] == "push.example"
    assert apns.json()["label"] == "…7e8f90"  # stored lower-case, shown by its end only

    listed = (await client.get("/v1/me/devices", headers=member.headers)).json()["items"]
    assert {d["provider"] for d in listed} == {"webpush", "fcm", "apns"}
    assert ("apns", APNS_TOKEN.lower()) in await stored()

    removed = await client.delete(f"/v1/me/devices/{fcm.json()['id']}", headers=member.headers)
    assert removed.status_code == 204
    again = await client.delete(f"/v1/me/devices/{fcm.json()['id']}", headers=member.headers)
    assert_problem(again, 404, "device_not_found")
    assert [p for p, _ in await stored()] == ["apns", "webpush"]


async def test_a_token_registered_again_moves_and_never_doubles(
    client: httpx.AsyncClient, member: LoggedInMember, live_server: LiveServer
) -> None:
    first = await register(client, member, {"provider": "apns", "token": APNS_TOKEN})
    again = await register(client, member, {"provider": "apns", "token": APNS_TOKEN.lower()})
    assert again.json()["id"] == first.json()["id"]

    # The phone changes hands: the token now belongs to the member who registered it last.
    other = await log_in(client, live_server.sms)
    moved = await register(client, other, {"provider": "apns", "token": APNS_TOKEN})
    assert moved.json()["id"] == first.json()["id"]
    assert (await client.get("/v1/me/devices", headers=member.headers)).json()["items"] == []
    assert len((await client.get("/v1/me/devices", headers=other.headers)).json()["items"]) == 1
    gone = await client.delete(f"/v1/me/devices/{first.json()['id']}", headers=member.headers)
    assert_problem(gone, 404, "device_not_found")
    assert len(await stored()) == 1


async def test_a_member_keeps_the_most_recent_devices(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    for n in range(DEVICES_KEPT + 2):
        endpoint = f"https://push.example/send/{n:04d}"
        response = await register(
            client, member, {"provider": "webpush", "subscription": web_push_subscription(endpoint)}
        )
        assert response.status_code == 201
    tokens = [token for _, token in await stored()]
    assert len(tokens) == DEVICES_KEPT
    assert "https://push.example/send/0000" not in tokens


async def test_malformed_devices_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    good = web_push_subscription()
    keys = good["keys"]
    assert isinstance(keys, dict)
    bad = [
        (
            {"provider": "webpush", "subscription": web_push_subscription("http://push.example/x")},
            "subscription.endpoint",
        ),
        (
            {"provider": "webpush", "subscription": {**good, "keys": {**keys, "p256dh": "A" * 87}}},
            "subscription.keys.p256dh",
        ),
        (
            {
                "provider": "webpush",
                "subscription": {**good, "keys": {**keys, "auth": "A" * 23}},
            },
            "subscription.keys.auth",
        ),
        ({"provider": "webpush", "token": FCM_TOKEN}, "subscription"),
        ({"provider": "fcm", "token": "short"}, "token"),
        ({"provider": "fcm", "token": FCM_TOKEN + " <script>"}, "token"),
        ({"provider": "apns", "token": "zz" * 32}, "token"),
        ({"provider": "apns", "token": APNS_TOKEN[:-1]}, "token"),
        ({"provider": "apns", "subscription": good}, "token"),
    ]
    for body, field in bad:
        response = await register(client, member, body)
        assert_problem(response, 400, "validation_failed")
        assert response.json()["extra"]["field"] == field, body
    unknown = await register(client, member, {"provider": "rustore", "token": FCM_TOKEN})
    assert_problem(unknown, 400, "validation_failed")
    assert await stored() == []


async def test_notification_settings_default_on_and_change_by_kind(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    start = (await client.get("/v1/me/notifications", headers=member.headers)).json()
    assert start["language"] == "ru"
    # The kinds of the public contract (shared/api.md), spelled out: a kind dropped fails here.
    contract = "points_earned reward_earned offer_live points_expiring birthday tier_up"
    assert set(start["kinds"]) == set(contract.split()) == set(KINDS)
    assert all(start["kinds"].values())

    changed = await client.put(
        "/v1/me/notifications",
        headers=member.headers,
        json={"language": "en", "kinds": {"birthday": False, "offer_live": False}},
    )
    assert changed.status_code == 200, changed.text
    again = await client.put(
        "/v1/me/notifications", headers=member.headers, json={"kinds": {"offer_live": True}}
    )
    shown = again.json()
    assert shown["language"] == "en"
    assert shown["kinds"]["birthday"] is False and shown["kinds"]["offer_live"] is True

    refused = await client.put(
        "/v1/me/notifications", headers=member.headers, json={"kinds": {"spam": True}}
    )
    assert_problem(refused, 400, "validation_failed")
    assert (await client.get("/v1/me/notifications", headers=member.headers)).json() == shown


async def test_the_web_push_key_is_public(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    from backend.push.setup import PushSetup

    response = await client.get("/v1/push/web-push-key")
    assert response.status_code == 200
    key = response.json()["public_key"]
    assert key == PushSetup.for_settings(live_server.app.state.settings).vapid_public_key
    assert len(base64.urlsafe_b64decode(key + "=")) == 65
