from __future__ import annotations

from backend.members.card_numbers import is_valid_card_number, luhn_check_digit, new_card_number


def test_check_digit_matches_known_luhn_numbers() -> None:
    # Well-known valid Luhn numbers (payment-card test numbers).
    assert luhn_check_digit("453957876362148") == "6"
    assert luhn_check_digit("7992739871") == "3"


def test_new_card_numbers_are_sixteen_digits_and_valid() -> None:
    numbers = {new_card_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(len(n) == 16 and n.startswith("77") and is_valid_card_number(n) for n in numbers)


def test_a_single_mistyped_digit_is_caught() -> None:
    number = new_card_number()
    for position in range(16):
        wrong = str((int(number[position]) + 1) % 10)
        assert not is_valid_card_number(number[:position] + wrong + number[position + 1 :])


def test_malformed_numbers_are_invalid() -> None:
    assert not is_valid_card_number("")
    assert not is_valid_card_number("77abc")
    assert not is_valid_card_number("4539578763621486" + "0")
