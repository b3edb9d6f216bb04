"""Deliveries: what leaves the platform for someone outside it, queued in a table and sent
at least once by a worker (docs/notifications.md, "One delivery pipeline").

Push notifications (``backend.push``), partner webhooks (``backend.partners``) and the
accounting outbox (``backend.accounting``) are three kinds of delivery with one set of
mechanics, kept here:

- ``worker``: the worker's loop (a round until told to stop, an idle wait when a round found
  nothing, the queue's figures sampled every few seconds, a failed round logged and retried);
- ``batch``: a batch of due rows locked ``FOR UPDATE SKIP LOCKED`` in a transaction held while
  they are sent, then recorded (a worker killed mid-batch leaves them pending);
- ``policy``: exponential backoff with jitter and the receiver's ``Retry-After``;
- ``feed``: the member streams read past a position per member, so that a feed run every
  second reads each committed event once, a late-committing one included;
- ``dead_letters``: a dead letter put back in line by an admin.

What differs per kind (how one row is sent, what its outcome means) is the kind's
``Carrier``; this package knows no kind.
"""
