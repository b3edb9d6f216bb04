"""``EXPLAIN (ANALYZE, BUFFERS)`` of every hot statement (``devkit.hot_statements``) on the
database of DATABASE_URL (the 1M-member one), for a member from the middle of the chain:
execution time, buffers touched, the indexes used and any problem the plan tests would
refuse. Writes are run inside a transaction rolled back.

    DATABASE_URL=... python -m loadtests.explain_hot

Writes ``loadtests/reports/explain-<time>.md`` and prints it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from loadtests.bench_report import run_and_write


def _buffers(plan: dict[str, Any]) -> int:
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


async def explain_all(database_url: str) -> list[str]:
    import asyncpg

    from devkit.hot_statements import statements
    from devkit.plan_database import fill_queues, sample
    from devkit.plans import explain, problems, scans

    connection = await asyncpg.connect(database_url)
    filled = connection.transaction()
    await filled.start()
    try:
        members = await connection.fetchval("SELECT COUNT(*) FROM member")
        at = await sample(connection, now=datetime.now(UTC))
        # Four days of keys, one a second; 800 days of documents, one a minute.
        await fill_queues(connection, at.now, keys=345_600, documents=1_152_000)
        lines = [
            f"On {members:,} members: EXPLAIN (ANALYZE, BUFFERS), each run twice and the second "
            "kept (warm cache, as on a serving primary); idempotency keys (4 days of one a "
            "second) and delivered documents (800 days of one a minute) added for the purges "
            f"to find, rolled back after; load average {os.getloadavg()[0]:.1f} (2 shared CPUs).",
            "",
            "| statement | ms | buffers | rows | indexes | problems |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for statement in statements():
            await explain(connection, statement, at, analyze=True)
            result = await explain(connection, statement, at, analyze=True)
            plan = result["Plan"]
            used = sorted({scan.index for scan in scans(plan) if scan.index})
            wrong = problems(statement, plan)
            lines.append(
                f"| {statement.name} | {result['Execution Time']:.2f} | {_buffers(plan):,} "
                f"| {plan.get('Actual Rows', 0):,} | {', '.join(used)} "
                f"| {'; '.join(wrong) or 'none'} |"
            )
        return lines
    finally:
        await filled.rollback()
        await connection.close()


def main() -> int:
    return run_and_write("explain", "Hot statements", explain_all(os.environ["DATABASE_URL"]))


if __name__ == "__main__":
    raise SystemExit(main())
