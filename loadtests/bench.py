"""``make bench``: every part in turn (sockets, the reconnect storm, campaigns, purchases
with their same-run baselines), then one table of all their figures, kept in ``loadtests/reports/`` (JSON and
Markdown); exits 1 when a target is missed. Only ever targets 127.0.0.1."""

from __future__ import annotations

from loadtests import bench_campaigns, bench_purchases, bench_storm, bench_ws
from loadtests.benchlib import run_parts


def main() -> int:
    import uvloop

    uvloop.install()
    return run_parts(
        {
            "ws": bench_ws.run,
            "storm": bench_storm.run,
            "campaigns": bench_campaigns.run,
            "purchases": bench_purchases.run,
        }
    )


if __name__ == "__main__":
    raise SystemExit(main())
