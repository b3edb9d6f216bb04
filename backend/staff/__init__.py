"""Staff users: baristas, managers and admins; their login and their management."""
