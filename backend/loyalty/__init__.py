"""Loyalty: the points ledger, account balances, tiers and member events."""
