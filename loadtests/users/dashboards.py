"""``StaffDashboard``: a store's manager with the store's dashboard open.

It logs in with ``POST /v1/staff/token``, holds the store stream
``/v1/ws?store_id=...&token=...`` (``users.streams``) and reads
``/v1/admin/stores/{id}/stats``; each dashboard takes the next store of the seed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from locust import task
from locust.exception import StopUser

from loadtests.users.config import RUN
from loadtests.users.pacing import poisson_pacing
from loadtests.users.shared import Shared, next_turn
from loadtests.users.streams import Stream
from loadtests.users.tokens import TokenUser


class StaffDashboard(TokenUser):
    weight = int(RUN["weights"]["StaffDashboard"])
    wait_time = poisson_pacing(float(RUN["pace"]["StaffDashboard"]))
    store: dict[str, Any]
    stream: Stream | None = None

    def on_start(self) -> None:
        credentials = Shared.load(self.environment)
        stores = credentials["stores"]
        turn = next_turn(Shared.store_counter, self.environment)
        self.store = stores[turn % len(stores)]
        manager = self.store["manager"]
        login = {"email": manager["email"], "password": manager["password"]}
        body = self.call("POST", "/v1/staff/token", json=login)
        if body is None:
            raise StopUser()
        self.take_tokens(body)
        self.stream = Stream(self, "store")
        self.stream.start()

    def on_stop(self) -> None:
        if self.stream is not None:
            self.stream.close()

    def ws_path(self) -> str:
        return f"/v1/ws?store_id={self.store['id']}&token={quote(self.access_token)}"

    @task
    def stats(self) -> None:
        self.ensure_token()
        self.get_json(f"/v1/admin/stores/{self.store['id']}/stats", "/v1/admin/stores/{id}/stats")
