"""Locust scenarios for Astrocoffee, measured against ``loadtests/targets.toml``.

The entry point: ``locust -f loadtests/locustfile.py``, run from the repository root
(``python -m loadtests.run`` and ``loadtests.soak`` start it, ``loadtests.locust_cli``
prints the commands of a distributed run). Locust runs the User classes it finds here; they
live in ``loadtests/users/``, three kinds of user weighted by ``[run.weights]`` and paced by
``[run.pace]`` (task runs per second per user, as independent Poisson arrivals:
``users/pacing.py``):

* ``PosTerminal`` (``users/tills.py``): a till of a seeded store, selling purchases and
  checkouts, now and then a refund (``[run.pos_mix]``);
* ``MobileMember`` (``users/phones.py``): a seeded member with the app open, its socket,
  reads, offer activations and token rotations (and, in ``make soak``, connection churn);
* ``StaffDashboard`` (``users/dashboards.py``): a store's manager with the store's stream
  and stats open.

Besides the HTTP requests, Locust's figures count the sockets' pushes, replays, drops, seq
gaps and error frames (``WS``, ``WS-replay``, ``WSCONN``, ``WSSEQ``, ``WSERR``:
``users/streams.py``) and the push of every purchase to the buyer's phone against the push
deadline (``PUSH purchase -> balance.updated``: ``users/pushes.py``). What the process is
told (credentials, targets, workers, churn): ``users/config.py``. Only ever point ``--host``
at 127.0.0.1.
"""

from loadtests.users import intervals  # noqa: F401 (its listeners count every request)
from loadtests.users.dashboards import StaffDashboard
from loadtests.users.phones import MobileMember
from loadtests.users.tills import PosTerminal

__all__ = ["MobileMember", "PosTerminal", "StaffDashboard"]
