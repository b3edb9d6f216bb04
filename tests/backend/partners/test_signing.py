"""Our Standard Webhooks signatures, checked by the ``standardwebhooks`` package (PyPI), an
implementation that is not ours; and the secrets we accept."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from backend.errors import ValidationFailed
from backend.partners.signing import MIN_KEY_BYTES, checked_secret, headers, new_secret


def test_a_signature_verifies_with_the_independent_implementation() -> None:
    secret = new_secret()
    body = b'{"type":"sale.completed","timestamp":"2026-12-07T10:00:00+00:00","data":{}}'
    signed = headers([secret], "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, signed) == {
        "type": "sale.completed",
        "timestamp": "2026-12-07T10:00:00+00:00",
        "data": {},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", signed)


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = new_secret(), new_secret()
    body = b"{}"
    signed = headers([new, old], "msg_2", int(time.time()), body)
    assert signed["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        Webhook(secret).verify(body, signed)


def test_secrets_must_be_standard_and_long_enough() -> None:
    assert new_secret().startswith("whsec_")
    good = "whsec_" + base64.b64encode(b"k" * MIN_KEY_BYTES).decode()
    assert checked_secret(good) == good
    for bad in (
        "whsec_" + base64.b64encode(b"k" * (MIN_KEY_BYTES - 1)).decode(),  # too short
        base64.b64encode(b"k" * 32).decode(),  # no prefix
        "whsec_not base64!",
    ):
        with pytest.raises(ValidationFailed):
            checked_secret(bad)
