"""The Celery worker runtime. Depends on core and broker.

runtime (settings, Redis, report spool of this process) · context (a job's headers, Deferred and other
endings) · task (OdooJobTask, the app's task_cls) · leases (claims renewed while a job runs) · control
(heartbeat to Odoo: paused queues, rate limits, held jobs) · consumer (refusals without secrets, broker
outages) · log_filter · signals (start, ready, stop) · odoo_client (Odoo RPC, report spool) · metrics ·
healthcheck."""
