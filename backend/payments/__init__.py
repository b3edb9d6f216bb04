"""Payments: purchases made at the till (and later checkouts, refunds, app orders)."""
