"""The till (POS): one-shot purchases, two-phase checkouts and refunds, called by terminals."""
