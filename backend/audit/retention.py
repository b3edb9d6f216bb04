"""The audit trail's retention: entries older than the configured period are purged.

The table's trigger lets a DELETE through only inside a transaction that has named the
cutoff (``astrocoffee.audit_purge_before``) and only for rows older than both it and 30
days (see the migration ``db_2026_12_07t22_12_41_000000``). Batches keep each transaction
and its locks short on a trail of millions of rows.
"""

from __future__ import annotations

from datetime import datetime

from db import sql
from db.pool import engine

BATCH = 5000
_NAME_CUTOFF = "SELECT set_config('astrocoffee.audit_purge_before', {cutoff}, true)"
_PURGE_BATCH = """
WITH gone AS (
    DELETE FROM audit_entry WHERE id IN (
        SELECT id FROM audit_entry
        -- The trigger's own floor, so that a clock running ahead never fails the batch.
        WHERE at < {before} AND at < now() - interval '30 days'
        ORDER BY at LIMIT {batch}
    ) RETURNING 1
)
SELECT count(*) AS n FROM gone
"""


async def purge_audit(*, before: datetime, batch: int = BATCH) -> int:
    """Delete the entries older than ``before``; how many went."""
    purged = 0
    while True:
        async with engine().transaction():
            await sql.fetch(_NAME_CUTOFF, cutoff=before.isoformat())
            rows = await sql.fetch(_PURGE_BATCH, before=before, batch=batch)
        count = int(rows[0]["n"])
        purged += count
        if count < batch:
            return purged
