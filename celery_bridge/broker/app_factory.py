"""The one Celery configuration (spec B-009 §2.2), used by the workers and by Odoo's publisher."""
from urllib.parse import urlsplit

from celery import Celery
from kombu import Exchange, Queue

from celery_bridge.core import protocol, routing

TASK_MODULES = [
    "celery_bridge.tasks.health", "celery_bridge.tasks.iot", "celery_bridge.tasks.notifications",
    "celery_bridge.tasks.payments", "celery_bridge.tasks.reports", "celery_bridge.tasks.maintenance",
]


def route_task(name, args, kwargs, options, task=None, **kw):
    return {"queue": routing.route_for(name)}


def build_config(settings):
    return {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": protocol.FARM_TIMEZONE,
        "enable_utc": True,
        "task_track_started": True,
        "task_time_limit": 3600,
        "task_soft_time_limit": 3300,
        "worker_prefetch_multiplier": 4,
        "worker_max_tasks_per_child": 1000,
        "result_expires": 86400,
        "result_extended": True,
        "task_default_queue": routing.DEFAULT_QUEUE,
        "task_default_priority": routing.DEFAULT_PRIORITY,
        "task_queues": tuple(
            Queue(queue.name, Exchange(queue.name), routing_key=queue.routing_key) for queue in routing.QUEUES
        ),
        "task_routes": (route_task,),
        # A task is acknowledged once it has run, and given back if its worker dies, so a crash
        # never loses it; idempotent tasks make the rare second run harmless.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "broker_connection_retry_on_startup": True,
        # A broker outage of any length is a delay: the worker's consumer retries for ever (None),
        # waiting at most BROKER_RETRY_MAX_INTERVAL between attempts (celery_bridge.worker.consumer), and
        # says so in its log, its metrics and its health check. A limit here made the worker exit
        # ("Unrecoverable error") once it was spent, ~110 s with Celery's back-off.
        "broker_connection_max_retries": None,
        "broker_connection_timeout": settings.publish_timeout,
        # Tasks running when the connection is lost run to their end: their reports wait in the
        # spool, and the redelivered message (its ack could not reach the broker) finds the job's
        # claim done and does not run it again. Celery 6 would cancel them by default.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # A queue item that is not a message is moved aside instead of killing the worker
        # (celery_bridge.broker.transport); other broker schemes keep kombu's own transport.
        "broker_transport": poison_safe_transport(settings.celery_broker_url),
        "broker_transport_options": {
            "visibility_timeout": settings.broker_visibility_timeout,
            "queue_order_strategy": "priority",
            "priority_steps": list(range(routing.MIN_PRIORITY, routing.MAX_PRIORITY + 1)),
            "socket_timeout": settings.publish_timeout,
            "socket_connect_timeout": settings.publish_timeout,
        },
        # A message the worker cannot run (unknown task, invalid, undecodable) is refused without
        # logging its body: job arguments may hold secrets (celery_bridge.worker.consumer.SecretSafeConsumer).
        # BridgeConsumer adds the broker connectivity of the worker's log, metrics and health check.
        "worker_consumer": "celery_bridge.worker.consumer:BridgeConsumer",
        # Odoo is the record of every job: no Celery task events needed (they cost throughput).
        "worker_send_task_events": False,
        "task_send_sent_event": False,
    }


REDIS_SCHEMES = ("redis", "rediss")
POISON_SAFE_TRANSPORT = "celery_bridge.broker.transport:PoisonSafeTransport"


def poison_safe_transport(broker_url):
    """The transport for ``broker_url``: ours on plain Redis, kombu's choice (None) otherwise."""
    return POISON_SAFE_TRANSPORT if urlsplit(broker_url or "").scheme in REDIS_SCHEMES else None


def make_app(settings, include=(), current=True, task_cls=None):
    """The Celery app. ``task_cls``, the workers' task base class, is a "module:Class" string that
    Celery imports only when the app makes its tasks: the publisher (none) never imports the worker."""
    app = Celery("smart_dairy", include=list(include), set_as_current=current, task_cls=task_cls)
    app.conf.update(build_config(settings))
    return app
