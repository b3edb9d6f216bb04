"""Who is calling: members (phone + one-time code), POS terminals (API key), and the guards."""
