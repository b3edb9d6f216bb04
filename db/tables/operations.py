"""What the platform keeps for running itself, apart from the business's data."""

from __future__ import annotations

from piccolo.columns import BigInt, Varchar
from piccolo.table import Table


class JobFence(Table, tablename="job_fence"):
    """The newest fencing number that has run a lease's jobs (``backend.jobs.lease``): a holder
    with an older number is stale and stops."""

    name = Varchar(length=40, primary_key=True, help_text="The lease's name.")
    fence = BigInt(default=0)
