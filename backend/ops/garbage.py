"""Keep the objects a process starts with out of the garbage collector's full passes.

Measured in the Locust mix (``make loadtest``, one worker): a full (generation 2) collection
walked the ~190,000 objects that startup leaves behind (modules, routes, the ORM's tables) and
stopped the event loop for 80 ms on average, 120 ms at worst, every 4 to 5 seconds. About 2 % of
requests were in flight during one, which is the whole p99 budget. Frozen (``gc.freeze``), they
are never walked again: full collections fell to ~25 ms, walking only what requests create.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_objects() -> None:
    """Move everything alive now to the permanent generation, once per process.

    Once: tests start many apps in one process, and freezing again each time would keep
    every earlier test's garbage alive for good. No ``gc.collect()`` first: it would be the
    full pass this avoids, and the little garbage frozen with startup's objects is bounded.
    """
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
