"""The Celery worker runtime: the task base class, leases and heartbeats, the message consumer, the Odoo
client and its report spool, metrics and the health check. Depends on core and broker."""
