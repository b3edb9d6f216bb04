"""HTTP for store and terminal management."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from backend.auth.access import ADMINS, MANAGERS, STAFF
from backend.auth.terminals import TerminalDirectory
from backend.errors import Conflict
from backend.http import PathId, StaffRequest, answers, strict_body
from backend.stores import service
from backend.stores.figures import figures_of_day
from backend.stores.schemas import (
    NewTerminal,
    StoreCreate,
    StoreFigures,
    StoreList,
    StoreOut,
    StoreUpdate,
    TerminalCreate,
    TerminalList,
    TerminalOut,
)


class AdminStoreController(Controller):
    path = "/v1/admin"
    tags = ["admin"]

    @get("/stores", opt=STAFF, summary="Stores the caller works in (admins: all)")
    async def list_stores(self, request: StaffRequest) -> StoreList:
        return await service.list_stores_for(request.user)

    @post(
        "/stores",
        opt=ADMINS | answers(Conflict),
        summary="Open a store",
        status_code=201,
    )
    async def create_store(self, request: StaffRequest, data: JSONBody[StoreCreate]) -> StoreOut:
        return await service.create_store(await strict_body(request, StoreCreate))

    @get("/stores/{store_id:uuid}", opt=STAFF, summary="One store")
    async def get_store(self, request: StaffRequest, store_id: PathId) -> StoreOut:
        return await service.get_store_for(request.user, store_id)

    @patch(
        "/stores/{store_id:uuid}",
        opt=ADMINS,
        summary="Rename a store, change its time zone, the hour its day starts or its "
        "maximum for one sale",
    )
    async def update_store(
        self, request: StaffRequest, store_id: PathId, data: JSONBody[StoreUpdate]
    ) -> StoreOut:
        return await service.update_store(store_id, await strict_body(request, StoreUpdate))

    @get(
        "/stores/{store_id:uuid}/stats",
        opt=STAFF,
        summary="The store's figures for today, its local business day (or another day)",
    )
    async def get_stats(
        self,
        request: StaffRequest,
        store_id: PathId,
        day: Annotated[
            date | None,
            QueryParameter(
                name="date",
                description="a business day of the store, YYYY-MM-DD in the store's own "
                "calendar (its time zone and day-start hour); default: its current one",
            ),
        ] = None,
    ) -> StoreFigures:
        clock = await service.clock_for(request.user, store_id)
        figures = await figures_of_day(store_id, clock, now=datetime.now(UTC), day=day)
        return msgspec.convert(figures, StoreFigures)

    @get("/stores/{store_id:uuid}/terminals", opt=MANAGERS, summary="The store's terminals")
    async def list_terminals(self, request: StaffRequest, store_id: PathId) -> TerminalList:
        return await service.list_terminals(request.user, store_id)

    @post(
        "/stores/{store_id:uuid}/terminals",
        opt=MANAGERS,
        summary="Create a terminal; its API key is shown this once",
        status_code=201,
    )
    async def create_terminal(
        self, request: StaffRequest, store_id: PathId, data: JSONBody[TerminalCreate]
    ) -> NewTerminal:
        body = await strict_body(request, TerminalCreate)
        return await service.add_terminal(request.user, store_id, body.name)

    @post(
        "/terminals/{terminal_id:uuid}/revoke",
        opt=MANAGERS,
        summary="Revoke a terminal's key, effective at once",
        status_code=200,
    )
    async def revoke_terminal(
        self,
        request: StaffRequest,
        terminal_id: PathId,
        terminal_directory: NamedDependency[TerminalDirectory],
    ) -> TerminalOut:
        return await service.revoke_terminal(request.user, terminal_id, terminal_directory)
