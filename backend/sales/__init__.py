"""What a sale is, however it was made (one-shot at the till, a checkout, an app order)."""
