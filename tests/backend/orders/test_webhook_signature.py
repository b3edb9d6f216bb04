from __future__ import annotations

import pytest

from backend.errors import Unauthorized
from backend.orders.webhook_signature import sign, verify_signature

BODY = b'{"id": "evt"}'


def test_a_signature_made_with_the_previous_secret_still_verifies_while_rotating() -> None:
    header = f"t=1000,v1={sign('old-secret-0123456', 1000, BODY)}"
    assert (
        verify_signature(header, BODY, ("new-secret-0123456", "old-secret-0123456"), now=1000)
        == 1000
    )
    with pytest.raises(Unauthorized):
        verify_signature(header, BODY, ("new-secret-0123456",), now=1000)


def test_any_of_several_v1_values_may_match() -> None:
    good = sign("secret-0123456789", 50, BODY)
    header = f"t=50,v1={'0' * 64},v1={good}"
    assert verify_signature(header, BODY, ("secret-0123456789",), now=60) == 50


def test_the_window_is_five_minutes_either_way() -> None:
    header = f"t=1000,v1={sign('secret-0123456789', 1000, BODY)}"
    assert verify_signature(header, BODY, ("secret-0123456789",), now=1300) == 1000
    with pytest.raises(Unauthorized, match="window"):
        verify_signature(header, BODY, ("secret-0123456789",), now=1301)
    with pytest.raises(Unauthorized, match="window"):
        verify_signature(header, BODY, ("secret-0123456789",), now=699)
