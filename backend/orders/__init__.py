"""Orders paid in the mobile app through the payment provider."""
