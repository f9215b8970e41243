"""Worker-side Prometheus metrics, named as B-009 §7.2, correct under the prefork pool.

Counters and histograms are written by every pool process into PROMETHEUS_MULTIPROC_DIR and summed
at scrape time; queue lengths and live workers are read from Redis at scrape time. Everything comes
from the bridge's own hooks: no Celery task events (reported to cost about a third of throughput here).
Labels are bounded: task names, the seven queues, a few states.

Only a worker's main process makes a multiprocess directory (``start_worker_metrics``, before its pool
forks) and removes it when it stops; a process that merely imports the app (``celery -A celery_bridge
inspect ping``) keeps its values in memory and leaves nothing behind. Workers sharing a host share
METRICS_PORT too: a worker that finds it taken serves on the next free port of the few after it
(``PORT_RANGE``), and notes its port where the health check finds it (``port_file``).
"""
import atexit
import errno
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from celery_bridge.broker import transport
from celery_bridge.core import protocol, routing

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# METRICS_PORT taken (another worker on this host): the next free of the ports after it, up to this many in all.
PORT_RANGE = 10
PORT_FILE_PREFIX = "sdj-worker-metrics-"

BUCKETS = (.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)  # B-009 §7.2
WORKER_KEY = protocol.WORKER_ALIVE_PREFIX

TASKS_TOTAL = Counter("celery_tasks_total", "Total tasks", ["task_name", "queue", "state"])
TASK_DURATION = Histogram("celery_task_duration_seconds", "Task duration", ["task_name"], buckets=BUCKETS)
TASK_RETRIES = Counter("celery_task_retries_total", "Task retries", ["task_name"])
# Jobs deferred to Odoo because their task type's global rate limit (all workers together) was reached.
TASK_RATE_LIMITED = Counter("celery_task_rate_limited_total", "Jobs held back by their global rate limit",
                            ["task_name"])
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


class _Made:
    """What this worker's main process made for its metrics, removed when it stops."""

    def __init__(self):
        self.owner_pid = None  # the main process: its pool processes inherit this object but own nothing
        self.own_dir = None  # the multiprocess directory it made (None: the operator's, or none)
        self.port_file = None  # where it noted its metrics port


_made = _Made()


def start_worker_metrics():
    """In the worker's main process, before its pool forks: the multiprocess directory every process
    of the worker writes its counters to. An operator's PROMETHEUS_MULTIPROC_DIR is used as it is."""
    _made.owner_pid = os.getpid()
    if not os.environ.get(MULTIPROC_ENV):
        _made.own_dir = tempfile.mkdtemp(prefix="sdj-prometheus-")
        os.environ[MULTIPROC_ENV] = _made.own_dir
    if not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus-client chose in-memory values when imported, there being no directory yet; our
        # metrics all have labels, so no value exists before the first labels() call: from now on
        # every value (in the pool processes too, which inherit this choice) is kept in the directory.
        values.ValueClass = values.get_value_class()
    atexit.register(stop_worker_metrics)  # also after a cold shutdown, where Celery sends no worker_shutdown
    return os.environ[MULTIPROC_ENV]


def stop_worker_metrics():
    """Remove what start_worker_metrics and serve made, once the worker's pool has stopped."""
    if _made.owner_pid != os.getpid():
        return
    if _made.port_file:
        try:
            os.unlink(_made.port_file)
        except FileNotFoundError:
            pass
    if _made.own_dir:
        shutil.rmtree(_made.own_dir, ignore_errors=True)
    _made.own_dir = _made.port_file = None


def port_file(node, directory=None):
    """Where the worker named ``node`` notes the port it serves its metrics on (this host's temporary
    directory, TMPDIR: the same for a worker and the health check run in its container)."""
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", node)
    return os.path.join(directory or tempfile.gettempdir(), f"{PORT_FILE_PREFIX}{safe}.json")


def _note_port(node, port):
    path = port_file(node)
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump({"node": node, "port": port, "pid": os.getpid()}, handle)
    os.replace(partial, path)  # a health check never reads half a file
    _made.port_file = path


def candidate_ports(port, reserved=()):
    """The ports a worker tries, in order: ``port`` (METRICS_PORT), then the rest of the PORT_RANGE
    from it but the ``reserved`` ones."""
    return [port] + [candidate for candidate in range(port + 1, port + PORT_RANGE) if candidate not in reserved]


def serve(port, redis, node=None, reserved=()):
    """Serve the worker's metrics on ``port``, or on the next free port of the PORT_RANGE from it
    (another worker of this host has it) but those ``reserved`` for other services (the ingestion
    bridge's, which may start later); return the port served. ``node``: the worker's name, under which
    the port is noted for the health check."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(BrokerCollector(redis))
    registry.register(ConnectivityCollector())
    for candidate in candidate_ports(port, reserved):
        try:
            start_http_server(candidate, addr="0.0.0.0", registry=registry)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        if candidate != port:
            _logger.warning("Metrics port %s is taken (another worker on this host?): serving metrics on port %s",
                            port, candidate)
        else:
            _logger.info("Serving metrics on port %s", candidate)
        if node:
            _note_port(node, candidate)
        return candidate
    raise OSError(errno.EADDRINUSE, f"metrics ports {port} to {port + PORT_RANGE - 1} are all taken or reserved")


def process_exited(pid):
    multiprocess.mark_process_dead(pid)
