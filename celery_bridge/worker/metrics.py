"""Worker-side Prometheus metrics, named as B-009 §7.2, correct under the prefork pool.

Counters and histograms are written by every pool process into PROMETHEUS_MULTIPROC_DIR and summed
at scrape time; queue lengths and live workers are read from Redis at scrape time. Everything comes
from the bridge's own hooks: no Celery task events (reported to cost about a third of throughput here).
Labels are bounded: task names, the seven queues, a few states.
"""
import json
import logging
import os
import tempfile
import threading
import time

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_multiprocess_dir():
    """prometheus-client picks its storage when imported: set the directory before that."""
    if not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="sdj-prometheus-")
    return os.environ[MULTIPROC_ENV]


ensure_multiprocess_dir()

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server  # noqa: E402
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: E402

from celery_bridge.broker import transport  # noqa: E402
from celery_bridge.core import protocol, routing  # noqa: E402

BUCKETS = (.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)  # B-009 §7.2
WORKER_KEY = protocol.WORKER_ALIVE_PREFIX

TASKS_TOTAL = Counter("celery_tasks_total", "Total tasks", ["task_name", "queue", "state"])
TASK_DURATION = Histogram("celery_task_duration_seconds", "Task duration", ["task_name"], buckets=BUCKETS)
TASK_RETRIES = Counter("celery_task_retries_total", "Task retries", ["task_name"])
# Queue items that were not messages, moved aside by the worker (celery_bridge.broker.transport).
POISON_MESSAGES = Counter("celery_poison_messages_total", "Queue items that were not messages, moved aside",
                          ["queue_name"])

_logger = logging.getLogger(__name__)

_QUEUE_BY_ROUTING_KEY = {queue.routing_key: queue.name for queue in routing.QUEUES}


def queue_of(request):
    delivery = getattr(request, "delivery_info", None) or {}
    key = delivery.get("routing_key") or ""
    return _QUEUE_BY_ROUTING_KEY.get(key, key if key in routing.QUEUE_NAMES else "other")


def queue_label(queue):
    """A bounded label for a queue name read off the broker."""
    return queue if queue in routing.QUEUE_NAMES else "other"


@transport.on_poison
def _count_poison(queue):
    POISON_MESSAGES.labels(queue_label(queue)).inc()


class BrokerConnectivity:
    """Whether the worker's consumer holds a broker connection, kept by its main process
    (celery_bridge.worker.consumer) and served with the metrics from that same process."""

    def __init__(self):
        self._lock = threading.Lock()
        self.connected = False
        self.changed_at = time.time()  # when it last connected or lost the connection
        self.ever_connected = False
        self.reconnects = 0  # connections made again after one was lost

    def up(self):
        """The consumer is connected; True if that ends an outage."""
        with self._lock:
            ended_outage = self.ever_connected and not self.connected
            if ended_outage:
                self.reconnects += 1
            if not self.connected:
                self.connected, self.changed_at = True, time.time()
            self.ever_connected = True
            return ended_outage

    def down(self):
        """The consumer lost its connection; True if it had one."""
        with self._lock:
            was_connected = self.connected
            if was_connected:
                self.connected, self.changed_at = False, time.time()
            return was_connected

    def outage_seconds(self, now=None):
        """How long the worker has been without the broker (0 while connected)."""
        return 0.0 if self.connected else max(0.0, (now or time.time()) - self.changed_at)


BROKER = BrokerConnectivity()


class ConnectivityCollector:
    """The worker's broker connection, as its consumer last saw it."""

    def __init__(self, connectivity=BROKER):
        self.connectivity = connectivity

    def collect(self):
        connected = GaugeMetricFamily("celery_broker_connected",
                                      "1 while the worker's consumer holds a broker connection")
        connected.add_metric([], 1 if self.connectivity.connected else 0)
        yield connected
        outage = GaugeMetricFamily("celery_broker_outage_seconds",
                                   "How long the worker has been without the broker (0 while connected)")
        outage.add_metric([], self.connectivity.outage_seconds())
        yield outage
        reconnects = CounterMetricFamily("celery_broker_reconnects", "Broker connections made again after a loss")
        reconnects.add_metric([], self.connectivity.reconnects)
        yield reconnects


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
                sent = float(json.loads(tail)["headers"].get(protocol.SENT_AT_HEADER) or 0)
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
        try:
            stats = [(queue, queue_stats(self.redis, queue)) for queue in self.queues]
            active = sum(1 for _key in self.redis.scan_iter(WORKER_KEY + "*"))
        except Exception as exc:  # noqa: BLE001 - Redis away: the rest of the scrape (broker_connected) still answers
            _logger.warning("Queue metrics not read from Redis: %s", exc)
            return
        length = GaugeMetricFamily("celery_queue_length", "Current queue length", labels=["queue_name"])
        age = GaugeMetricFamily("celery_queue_oldest_message_age_seconds", "Age of the oldest waiting message",
                                labels=["queue_name"])
        for queue, (count, oldest) in stats:
            length.add_metric([queue], count)
            age.add_metric([queue], oldest)
        yield length
        yield age
        workers = GaugeMetricFamily("celery_workers_active", "Number of active workers")
        workers.add_metric([], active)
        yield workers


def serve(port, redis):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(BrokerCollector(redis))
    registry.register(ConnectivityCollector())
    start_http_server(port, addr="0.0.0.0", registry=registry)
    return registry


def process_exited(pid):
    multiprocess.mark_process_dead(pid)
