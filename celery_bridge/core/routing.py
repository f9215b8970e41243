"""Queues of spec B-009 §2.2 and the routing of task names to them, shared by Odoo and the workers."""
from typing import NamedTuple


class QueueSpec(NamedTuple):
    name: str
    routing_key: str
    priority: int  # queue importance, 0 = most urgent (same sense as Celery's Redis priorities)
    sla_seconds: int  # longest acceptable wait between enqueue and start
    description: str


QUEUES = (
    QueueSpec("celery", "celery", 5, 30, "Default queue: general tasks and daily aggregation"),
    QueueSpec("celery:high", "celery.high", 2, 3, "High priority, user-facing work"),
    QueueSpec("celery:low", "celery.low", 8, 300, "Low priority: data sync, images, maintenance"),
    QueueSpec("celery:iot", "celery.iot", 2, 10, "IoT sensor data and device status"),
    QueueSpec("celery:email", "celery.email", 5, 5, "Email and SMS notifications"),
    QueueSpec("celery:report", "celery.report", 7, 60, "Report generation"),
    QueueSpec("celery:payment", "celery.payment", 0, 2, "Payment processing (critical)"),
)
QUEUE_NAMES = tuple(queue.name for queue in QUEUES)
DEFAULT_QUEUE = "celery"

# Task names are dotted: smart_dairy.<area>.<task>[.high_priority|.low_priority]
AREA_QUEUES = {
    "iot": "celery:iot",
    "email": "celery:email",
    "sms": "celery:email",
    "report": "celery:report",
    "payment": "celery:payment",
    "sync": "celery:low",
    "image": "celery:low",
    "maintenance": "celery:low",
}
SUFFIX_QUEUES = {"high_priority": "celery:high", "low_priority": "celery:low"}


def route_for(task_name):
    """The queue a task goes to when nobody chose one (B-009 §2.2 routing by name prefix)."""
    parts = task_name.split(".")
    if parts[-1] in SUFFIX_QUEUES:
        return SUFFIX_QUEUES[parts[-1]]
    if len(parts) >= 3:
        return AREA_QUEUES.get(parts[1], DEFAULT_QUEUE)
    return DEFAULT_QUEUE


# Celery's Redis transport keeps one list per priority step and serves 0 first.
MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 0, 9, 5
