"""Astrocoffee loyalty service: domain services, HTTP API and wiring."""
