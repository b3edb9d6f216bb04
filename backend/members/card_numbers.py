"""Loyalty card numbers: 16 digits, the last a Luhn check digit so a mistyped number is caught."""

from __future__ import annotations

import secrets

CARD_PREFIX = "77"
CARD_LENGTH = 16


def luhn_check_digit(digits: str) -> str:
    total = 0
    # Walk from the right; the check digit will sit to the right of these, so the rightmost
    # payload digit is the first one doubled.
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def is_valid_card_number(number: str) -> bool:
    return (
        len(number) == CARD_LENGTH
        and number.isdigit()
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_card_number() -> str:
    body_length = CARD_LENGTH - len(CARD_PREFIX) - 1
    body = CARD_PREFIX + "".join(str(secrets.randbelow(10)) for _ in range(body_length))
    return body + luhn_check_digit(body)
