"""What a worker process uses everywhere, loaded once per process: its settings, its Redis (spool,
claims, circuits; the broker's unless STATE_REDIS_URL says otherwise) and its report spool to Odoo.
Tasks use these too: ``runtime.settings()``, ``runtime.redis()``."""
from datetime import datetime, timezone

from celery_bridge.broker.redis_state import redis_client
from celery_bridge.worker.odoo_client import get_reporter


def settings():
    """The worker's settings (those of ``celery_bridge.celery``, read once per process)."""
    from celery_bridge.celery import settings as loaded  # the worker's app module; imported late, it imports us

    return loaded


def redis():
    """The Redis where the bridge keeps its state (celery_bridge.core.protocol's keys)."""
    current = settings()
    return redis_client(current.state_redis_url or current.celery_broker_url)


def reporter():
    """This process's report spool to Odoo (celery_bridge.worker.odoo_client.Reporter)."""
    return get_reporter(settings())


def utcnow_iso():
    """Now, in UTC, as reports carry it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
