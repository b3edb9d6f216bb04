"""Realtime gateway: WebSocket protocol, per-process Redis fan-out hub, publisher.

Self-contained: imports nothing of ``backend``. The authenticator and the replay source are
passed in by backend's app factory.
"""
