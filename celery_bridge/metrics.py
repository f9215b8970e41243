"""Worker-side Prometheus metrics, named as B-009 §7.2, correct under the prefork pool.

Counters and histograms are written by every pool process into PROMETHEUS_MULTIPROC_DIR and summed
at scrape time; queue lengths and live workers are read from Redis at scrape time. Everything comes
from the bridge's own hooks: no Celery task events (reported to cost about a third of throughput here).
Labels are bounded: task names, the seven queues, a few states.
"""
import json
import os
import tempfile
import time

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_multiprocess_dir():
    """prometheus-client picks its storage when imported: set the directory before that."""
    if not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="sdj-prometheus-")
    return os.environ[MULTIPROC_ENV]


ensure_multiprocess_dir()

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

from . import routing  # noqa: E402

BUCKETS = (.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)  # B-009 §7.2
WORKER_KEY = "sdj:worker:"

TASKS_TOTAL = Counter("celery_tasks_total", "Total tasks", ["task_name", "queue", "state"])
TASK_DURATION = Histogram("celery_task_duration_seconds", "Task duration", ["task_name"], buckets=BUCKETS)
TASK_RETRIES = Counter("celery_task_retries_total", "Task retries", ["task_name"])

_QUEUE_BY_ROUTING_KEY = {queue.routing_key: queue.name for queue in routing.QUEUES}


def queue_of(request):
    delivery = getattr(request, "delivery_info", None) or {}
    key = delivery.get("routing_key") or ""
    return _QUEUE_BY_ROUTING_KEY.get(key, key if key in routing.QUEUE_NAMES else "other")


def priority_lists(queue, sep="\x06\x16"):
    """Every Redis list the transport keeps for ``queue``: one per priority step (celery-exporter
    and Flower count only the first)."""
    return [queue] + [f"{queue}{sep}{step}" for step in range(routing.MIN_PRIORITY + 1, routing.MAX_PRIORITY + 1)]


def queue_stats(redis, queue, now=None):
    """(messages waiting, age in seconds of the oldest one) for ``queue``."""
    now = now or time.time()
    lists = priority_lists(queue)
    with redis.pipeline() as pipe:
        for name in lists:
            pipe.llen(name)
            pipe.lindex(name, -1)  # LPUSH adds at the head: the oldest waits at the tail
        replies = pipe.execute()
    length, oldest = 0, 0.0
    for count, tail in zip(replies[::2], replies[1::2]):
        length += count
        if tail:
            try:
                sent = float(json.loads(tail)["headers"].get("sdj_sent_at") or 0)
            except (ValueError, KeyError, TypeError):
                sent = 0
            if sent:
                oldest = max(oldest, now - sent)
    return length, oldest


class BrokerCollector:
    """Queue lengths, oldest-message ages and live workers, read from Redis when scraped."""

    def __init__(self, redis, queues=routing.QUEUE_NAMES):
        self.redis = redis
        self.queues = queues

    def collect(self):
        length = GaugeMetricFamily("celery_queue_length", "Current queue length", labels=["queue_name"])
        age = GaugeMetricFamily("celery_queue_oldest_message_age_seconds", "Age of the oldest waiting message",
                                labels=["queue_name"])
        for queue in self.queues:
            count, oldest = queue_stats(self.redis, queue)
            length.add_metric([queue], count)
            age.add_metric([queue], oldest)
        yield length
        yield age
        workers = GaugeMetricFamily("celery_workers_active", "Number of active workers")
        workers.add_metric([], sum(1 for _key in self.redis.scan_iter(WORKER_KEY + "*")))
        yield workers


def serve(port, redis):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(BrokerCollector(redis))
    start_http_server(port, addr="0.0.0.0", registry=registry)
    return registry


def process_exited(pid):
    multiprocess.mark_process_dead(pid)
