"""Terminal API keys: random, shown once, stored as SHA-256.

A slow password hash (argon2) buys nothing here: the keys are 256-bit random strings, so
guessing is hopeless and a fast hash keeps the lookup off the hot path's CPU budget.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "ack_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]
