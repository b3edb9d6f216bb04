"""Orders paid in the mobile app through the payment provider (its client, its webhooks)."""
