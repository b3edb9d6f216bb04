"""Persistence: tables, migrations, engine configuration and the embedded development servers.

This package imports nothing else of ours and reads its connection settings from the
environment itself (``DATABASE_URL``), so Piccolo's CLI and our own code see one engine.
"""
