"""``TokenUser``: a phone's or a dashboard's session, an access token that it refreshes
(``POST /v1/auth/refresh``) before it expires, and the authenticated reads they share."""

from __future__ import annotations

import time
from typing import Any

from locust import FastHttpUser

from loadtests.users.reporting import checked_request


class TokenUser(FastHttpUser):
    """A user with an access token that it refreshes before it expires."""

    abstract = True
    access_token = ""
    refresh_token = ""
    access_expires_at = 0.0

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def ensure_token(self) -> None:
        if time.time() > self.access_expires_at - 60:
            self.refresh()

    def fresh_connection(self) -> None:
        """Before a POST: a phone's or dashboard's keep-alive connection has been idle for
        about its pace (5 s), as long as uvicorn keeps one; a POST sent on a connection that
        the server is closing fails and, not being idempotent, is not retried."""
        self.client.client.close()

    def take_tokens(self, body: dict[str, Any]) -> None:
        """The tokens of a sign-in or refresh answer (``access_token``, ``refresh_token``,
        ``expires_in``) become this user's."""
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.access_expires_at = time.time() + int(body["expires_in"])
        self.tokens_changed()

    def call(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        """A request of this user's (``reporting.checked_request``): its JSON, or None."""
        return checked_request(self.client, method, path, expect=expect, **kwargs)

    def refresh(self) -> bool:
        self.fresh_connection()
        body = self.call("POST", "/v1/auth/refresh", json={"refresh_token": self.refresh_token})
        if body is None:
            return False
        self.take_tokens(body)
        return True

    def tokens_changed(self) -> None:
        pass

    def ws_path(self) -> str:
        """The path of this user's socket (``users.streams``), its token in the query."""
        raise NotImplementedError

    def stream_opened(self) -> None:
        pass

    def stream_dropped(self) -> None:
        pass

    def get_json(self, path: str, name: str) -> Any:
        return self.call("GET", path, name=name, headers=self.bearer())
