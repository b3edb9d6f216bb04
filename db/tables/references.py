"""How a row names a row of another table it may not outlive."""

from __future__ import annotations

from typing import Any, TypeVar

from piccolo.columns import ForeignKey, OnDelete
from piccolo.table import Table

Referenced = TypeVar("Referenced", bound=Table)


def reference(
    table: type[Referenced], *, null: bool = False, **options: Any
) -> ForeignKey[Referenced]:
    """A foreign key to ``table`` that keeps the row it names: that row cannot be deleted
    while this one names it (members, stores, campaigns stay for the history that names them;
    an erasure blanks a member's data, it deletes no member). Set unless ``null``.

    Rows that go with the row they name (a device's deliveries) say ``OnDelete.cascade`` on
    their own ``ForeignKey``."""
    return ForeignKey(table, on_delete=OnDelete.restrict, null=null, **options)
