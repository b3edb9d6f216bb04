"""Periodic jobs and their scheduler: operations work run in turn by the app processes."""
