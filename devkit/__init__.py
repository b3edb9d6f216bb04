"""What a developer uses to run Astrocoffee locally: never part of the wheel or the image.

- ``fakes/``: the external systems played by small HTTP servers (accounting, payment
  provider, SMS gateway), in-process for tests or as processes for ``make run``;
- ``ports``: a free port of 127.0.0.1;
- ``processes``: ``astrocoffee serve``/``worker`` (and the fakes) as child processes,
  waited for until they answer, their output in a log file;
- ``serving``: an ASGI app served by uvicorn inside the caller's event loop;
- ``private_servers``: a PostgreSQL cluster and a redis-server of one's own, to stop,
  restart or kill; ``databases``: a scratch database on any PostgreSQL server, dropped after;
- ``seed``: stores with their tills and members with their accounts and login sessions,
  written in bulk, for load tests, benches and the fault tests.

Imported from the repository root (tests, loadtests, ``make run``); pyproject.toml's package
list and the Dockerfile leave it out of what ships.
"""
