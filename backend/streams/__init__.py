"""Event streams, one kind per module: a member's (``member.py``), a store's (``store.py``)
and the broadcast to every member (``broadcast.py``), all built on ``stream.Stream`` (one
append, one reader). ``replay.py`` serves the realtime gateway from them; ``relay.py``
republishes member events committed but never published."""
