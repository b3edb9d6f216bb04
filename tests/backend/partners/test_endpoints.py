"""Registering partner endpoints through the admin API: what is refused stores nothing, what
is accepted is on the audit trail without its secret."""

from __future__ import annotations

import httpx
import pytest

from backend.partners.events import EVENT_TYPES, NOT_IN_STREAM
from db.tables import PartnerEndpoint
from tests.backend.audit.support import entries
from tests.backend.partners.conftest import ENDPOINTS, Scene
from tests.factories import SignedInStaff, assert_problem


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"url": "https://10.0.0.7/hooks"}, "endpoint_address_refused"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "endpoint_address_refused"),
        ({"url": "https://[::ffff:192.168.1.1]/hooks"}, "endpoint_address_refused"),
        ({"url": "http://93.184.216.34/hooks"}, "endpoint_address_refused"),
        ({"secret": "whsec_c2hvcnQ="}, "validation_failed"),
        ({"event_types": ["sale.completed", "coffee.spilt"]}, "validation_failed"),
        ({"event_types": ["member.enrolled", "points.expire"]}, "validation_failed"),
        ({"event_types": []}, "validation_failed"),
    ],
)
async def test_bad_registrations_store_nothing(
    client: httpx.AsyncClient, admin: SignedInStaff, change: dict[str, object], code: str
) -> None:
    body = {"url": "http://127.0.0.1:9/hooks", "event_types": ["sale.completed"], **change}
    response = await client.post(ENDPOINTS, json=body, headers=admin.headers)
    assert_problem(response, 400, code)
    assert await PartnerEndpoint.count() == 0


async def test_an_endpoint_is_registered_listed_and_changed(scene: Scene) -> None:
    created = await scene.register("tier.changed", description="CRM")
    secret, endpoint = created["secret"], created["endpoint"]
    assert secret.startswith("whsec_")
    assert endpoint["enabled"] and not endpoint["personal_data_allowed"]
    listed = await scene.client.get(ENDPOINTS, headers=scene.admin.headers)
    assert [e["id"] for e in listed.json()["items"]] == [endpoint["id"]]
    changed = await scene.client.patch(
        f"{ENDPOINTS}/{endpoint['id']}",
        json={"personal_data_allowed": True, "event_types": ["points.expired", "tier.changed"]},
        headers=scene.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["personal_data_allowed"] is True
    assert changed.json()["event_types"] == ["points.expired", "tier.changed"]
    trail = await entries("partner_endpoint.registered") + await entries("partner_endpoint.updated")
    assert len(trail) == 2
    assert all(secret not in str(entry) for entry in trail)
    types = await scene.client.get(
        "/v1/admin/partner-webhooks/event-types", headers=scene.admin.headers
    )
    assert {t["type"] for t in types.json()["items"]} == set(EVENT_TYPES)
    assert types.json()["not_yet_available"] == list(NOT_IN_STREAM)
