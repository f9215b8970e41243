"""The logic Odoo and the workers share, in plain Python: job states, error classes and retry policy,
routing, scrubbing, windows and schedules, idempotency keys, settings, limits, argument schemas, message
signing and the wire protocol. Imports neither Celery nor Redis (nor any other room of the bridge)."""
