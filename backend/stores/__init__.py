"""Stores and their POS terminals, managed by admins and store managers."""
