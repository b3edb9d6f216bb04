"""The largest amount one sale may have: the store's own maximum, else the program's.

A till that sends 1e12 minor units by mistake (or on purpose) would otherwise earn points on
it; the cap refuses such a sale before anything is written.
"""

from __future__ import annotations

from backend.errors import SaleAmountTooLarge
from backend.settings import Settings


class _ProgramCap:
    # Set from the settings when the app starts (``use_program_sale_cap``).
    amount: int = Settings().max_sale_amount


def use_program_sale_cap(amount: int) -> None:
    """The maximum for stores that set none of their own (ASTROCOFFEE_MAX_SALE_AMOUNT)."""
    _ProgramCap.amount = amount


def check_sale_amount(amount: int, store_cap: int | None) -> None:
    """Refuse ``amount`` above the store's maximum (None: the store sets none)."""
    cap = _ProgramCap.amount if store_cap is None else store_cap
    if amount > cap:
        raise SaleAmountTooLarge(
            f"one sale may be at most {cap} minor units in this store", max_sale_amount=cap
        )
