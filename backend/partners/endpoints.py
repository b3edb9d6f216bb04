"""Registering and changing partner endpoints (the admin's side); every change is on the
audit trail, secrets never."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.audit.trail import record
from backend.errors import NotFound, ValidationFailed
from backend.partners.addresses import AddressPolicy
from backend.partners.events import EVENT_TYPES, NOT_IN_STREAM
from backend.partners.schemas import (
    EndpointCreate,
    EndpointList,
    EndpointOut,
    EndpointSecret,
    EndpointUpdate,
    EventTypeList,
    EventTypeOut,
)
from backend.partners.signing import checked_secret, new_secret
from db.ids import new_id
from db.pool import engine
from db.tables import PartnerDelivery, PartnerEndpoint

# How long a rotated-out secret still signs: partners switch keys within a day.
ROTATION_OVERLAP = timedelta(hours=24)
_OUT = (
    PartnerEndpoint.id,
    PartnerEndpoint.url,
    PartnerEndpoint.description,
    PartnerEndpoint.event_types,
    PartnerEndpoint.personal_data_allowed,
    PartnerEndpoint.enabled,
    PartnerEndpoint.disabled_reason,
    PartnerEndpoint.failing_since,
    PartnerEndpoint.previous_secret_until,
    PartnerEndpoint.created_at,
    PartnerEndpoint.updated_at,
)


def event_types() -> EventTypeList:
    return EventTypeList(
        items=[EventTypeOut(type=name, source=source) for name, source in EVENT_TYPES.items()],
        not_yet_available=list(NOT_IN_STREAM),
    )


def _checked_types(types: list[str]) -> list[str]:
    unknown = [name for name in types if name not in EVENT_TYPES]
    if unknown:
        waiting = [name for name in unknown if name in NOT_IN_STREAM]
        detail = f"unknown event types: {', '.join(unknown)}"
        if waiting:
            detail += f" ({', '.join(waiting)}: not yet events of the member stream)"
        raise ValidationFailed(detail, field="event_types", known=list(EVENT_TYPES))
    return sorted(set(types))


class PartnerEndpoints:
    def __init__(self, *, addresses: AddressPolicy) -> None:
        self._addresses = addresses

    async def register(self, data: EndpointCreate) -> EndpointSecret:
        types = _checked_types(data.event_types)
        secret = new_secret() if data.secret is None else checked_secret(data.secret)
        url = await self._addresses.check(data.url)
        # The request, its types, secret and address checked, is the new row.
        checked = msgspec.structs.replace(data, event_types=types, secret=secret, url=url)
        row = msgspec.structs.asdict(checked)
        now = datetime.now(UTC)
        endpoint_id = new_id()
        async with engine().transaction():
            await PartnerEndpoint.insert(
                PartnerEndpoint(id=endpoint_id, created_at=now, updated_at=now, **row)
            )
            endpoint = await get_endpoint(endpoint_id)
            await _audit("partner_endpoint.registered", endpoint, before=None)
        return EndpointSecret(endpoint=endpoint, secret=secret)

    async def update(self, endpoint_id: uuid.UUID, data: EndpointUpdate) -> EndpointOut:
        values: dict[Any, Any] = {}
        if data.url is not None:
            values[PartnerEndpoint.url] = await self._addresses.check(data.url)
        if data.event_types is not None:
            values[PartnerEndpoint.event_types] = _checked_types(data.event_types)
        if data.description is not None:
            values[PartnerEndpoint.description] = data.description
        if data.personal_data_allowed is not None:
            values[PartnerEndpoint.personal_data_allowed] = data.personal_data_allowed
        if data.enabled is not None:
            values[PartnerEndpoint.enabled] = data.enabled
            if data.enabled:  # a fresh start: the old failure run no longer counts
                values[PartnerEndpoint.disabled_reason] = None
                values[PartnerEndpoint.failing_since] = None
        async with engine().transaction():
            before = await get_endpoint(endpoint_id, lock=True)
            if not values:
                return before
            values[PartnerEndpoint.updated_at] = datetime.now(UTC)
            await PartnerEndpoint.update(values).where(PartnerEndpoint.id == endpoint_id)
            if data.enabled and not before.enabled:  # what waited goes now, in order
                await PartnerDelivery.update(
                    {PartnerDelivery.next_attempt_at: values[PartnerEndpoint.updated_at]}
                ).where(
                    (PartnerDelivery.endpoint == endpoint_id)
                    & (PartnerDelivery.status == "pending")
                )
            after = await get_endpoint(endpoint_id)
            await _audit("partner_endpoint.updated", after, before=before)
        return after

    async def rotate_secret(self, endpoint_id: uuid.UUID) -> EndpointSecret:
        """A new secret; the old one signs beside it for ``ROTATION_OVERLAP``."""
        now = datetime.now(UTC)
        secret = new_secret()
        async with engine().transaction():
            before = await get_endpoint(endpoint_id, lock=True)
            await PartnerEndpoint.update(
                {
                    PartnerEndpoint.previous_secret: PartnerEndpoint.secret,
                    PartnerEndpoint.previous_secret_until: now + ROTATION_OVERLAP,
                    PartnerEndpoint.secret: secret,
                    PartnerEndpoint.updated_at: now,
                }
            ).where(PartnerEndpoint.id == endpoint_id)
            after = await get_endpoint(endpoint_id)
            await _audit("partner_endpoint.secret_rotated", after, before=before)
        return EndpointSecret(endpoint=after, secret=secret)


async def get_endpoint(endpoint_id: uuid.UUID, *, lock: bool = False) -> EndpointOut:
    query = PartnerEndpoint.select(*_OUT).where(PartnerEndpoint.id == endpoint_id)
    if lock:
        query = query.lock_rows("NO KEY UPDATE")
    row = await query.first()
    if row is None:
        raise NotFound(f"partner endpoint {endpoint_id} does not exist")
    return EndpointOut(**row)


async def list_endpoints() -> EndpointList:
    rows = await PartnerEndpoint.select(*_OUT).order_by(PartnerEndpoint.created_at)
    return EndpointList(items=[EndpointOut(**row) for row in rows])


async def _audit(action: str, endpoint: EndpointOut, *, before: EndpointOut | None) -> None:
    await record(
        action,
        target_type="partner_endpoint",
        target_id=endpoint.id,
        before=None if before is None else msgspec.to_builtins(before),
        after=msgspec.to_builtins(endpoint),
    )
