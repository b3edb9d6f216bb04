"""Admin HTTP for partner webhooks: endpoints, their secrets, their deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from backend.auth.access import ADMINS
from backend.errors import NotFound
from backend.http import AnyRequest, Cursor, PathId, answers, strict_body
from backend.partners import deliveries, endpoints, schemas
from backend.partners.addresses import AddressRefused
from backend.partners.endpoints import PartnerEndpoints


class AdminPartnerWebhooksController(Controller):
    path = "/v1/admin/partner-webhooks"
    tags = ["admin"]

    @get("/event-types", opt=ADMINS, summary="The event types an endpoint may subscribe to")
    async def event_types(self) -> schemas.EventTypeList:
        return endpoints.event_types()

    @get("/endpoints", opt=ADMINS, summary="Partner endpoints")
    async def list_endpoints(self) -> schemas.EndpointList:
        return await endpoints.list_endpoints()

    @post(
        "/endpoints",
        opt=ADMINS | answers(AddressRefused),
        status_code=201,
        summary="Register a partner endpoint (its signing secret is shown once, here)",
    )
    async def register(
        self,
        request: AnyRequest,
        data: JSONBody[schemas.EndpointCreate],
        partner_endpoints: NamedDependency[PartnerEndpoints],
    ) -> schemas.EndpointSecret:
        return await partner_endpoints.register(await strict_body(request, schemas.EndpointCreate))

    @get("/endpoints/{endpoint_id:uuid}", opt=ADMINS | answers(NotFound), summary="One endpoint")
    async def get_endpoint(self, endpoint_id: PathId) -> schemas.EndpointOut:
        return await endpoints.get_endpoint(endpoint_id)

    @patch(
        "/endpoints/{endpoint_id:uuid}",
        opt=ADMINS | answers(NotFound, AddressRefused),
        summary="Change an endpoint, enable or disable it",
    )
    async def update(
        self,
        request: AnyRequest,
        endpoint_id: PathId,
        data: JSONBody[schemas.EndpointUpdate],
        partner_endpoints: NamedDependency[PartnerEndpoints],
    ) -> schemas.EndpointOut:
        return await partner_endpoints.update(
            endpoint_id, await strict_body(request, schemas.EndpointUpdate)
        )

    @post(
        "/endpoints/{endpoint_id:uuid}/secret/rotate",
        opt=ADMINS | answers(NotFound),
        status_code=200,
        summary="A new signing secret; the old one also signs for 24 hours",
    )
    async def rotate_secret(
        self, endpoint_id: PathId, partner_endpoints: NamedDependency[PartnerEndpoints]
    ) -> schemas.EndpointSecret:
        return await partner_endpoints.rotate_secret(endpoint_id)

    @get(
        "/endpoints/{endpoint_id:uuid}/deliveries",
        opt=ADMINS | answers(NotFound),
        summary="An endpoint's deliveries, newest first",
    )
    async def list_deliveries(
        self,
        endpoint_id: PathId,
        status: Annotated[
            Literal["pending", "delivered"] | None, QueryParameter(description="only these")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Cursor = None,
    ) -> schemas.DeliveryPage:
        return await deliveries.list_deliveries(
            endpoint_id, status=status, limit=limit, cursor=cursor
        )

    @post(
        "/endpoints/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        opt=ADMINS | answers(NotFound),
        status_code=200,
        summary="Send a delivery again (same webhook-id)",
    )
    async def replay(self, endpoint_id: PathId, delivery_id: PathId) -> schemas.DeliveryOut:
        return await deliveries.replay_delivery(endpoint_id, delivery_id)
