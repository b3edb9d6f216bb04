"""Look up the terminal behind an ``X-Api-Key``."""

from __future__ import annotations

from backend.auth.api_keys import display_prefix, hash_api_key, new_api_key
from backend.auth.callers import TerminalCaller
from db.tables import Store, Terminal


async def authenticate_terminal(api_key: str) -> TerminalCaller | None:
    row = (
        await Terminal.select(Terminal.id, Terminal.store)
        .where((Terminal.key_hash == hash_api_key(api_key)) & Terminal.revoked_at.is_null())
        .first()
    )
    if row is None:
        return None
    return TerminalCaller(terminal_id=row["id"], store_id=row["store"])


async def create_terminal(*, store: Store, name: str) -> tuple[Terminal, str]:
    """Create a terminal; return it with its key, which is never stored or shown again."""
    key = new_api_key()
    terminal = Terminal(
        store=store.id, name=name, key_prefix=display_prefix(key), key_hash=hash_api_key(key)
    )
    await terminal.save()
    return terminal, key
