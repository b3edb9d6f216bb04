"""The Locust users of ``loadtests/locustfile.py`` and what they share.

Everything here runs inside Locust's process, which gevent has monkey-patched: only the
locustfile imports it, never ``loadtests.run`` or ``loadtests.soak``.
"""
