"""The sales-accounting system: documents written to the outbox, delivered by the worker."""
