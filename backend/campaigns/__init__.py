"""Offers and campaigns: rules of several kinds, targeting, evaluation at the till, live offers."""
