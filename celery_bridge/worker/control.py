"""The worker under Odoo's control, from its main process: a heartbeat to Odoo's Workers view, and
Odoo's answer applied — paused queues, rate limits. It also tells Odoo which jobs this worker holds,
so that they are sent again if it dies, and wakes the report spool's drain.

It runs as a step of the worker's consumer (HeartbeatStep, added by celery_bridge.celery): it starts
once Celery consumes the worker's queues and can be told to stop consuming one.

Pausing and resuming a queue in Odoo reaches the workers twice: live, as a remote-control command
every worker receives and applies to its own queues only (``sdj_pause_queues`` /
``sdj_resume_queues``, below), and at every heartbeat, whose answer lists the paused queues — so a
worker that missed the broadcast (started meanwhile, or away from the broker) catches up within a beat.
A worker only ever consumes again the queues it was started for (its ``-Q``): fleets split by queue
stay split.
"""
import logging
import threading
import time

from celery import bootsteps
from celery.worker.control import control_command, ok

from celery_bridge.broker.rate_limits import GlobalRateLimits
from celery_bridge.core import limits
from celery_bridge.core.protocol import ATTEMPT_HEADER, PAUSE_QUEUES_COMMAND, RESUME_QUEUES_COMMAND
from celery_bridge.worker import metrics, runtime
from celery_bridge.worker.context import int_or_none
from celery_bridge.worker.odoo_client import OdooClient

_logger = logging.getLogger(__name__)


def held_jobs(requests):
    """``[uuid, attempt]`` of the Odoo jobs among a worker's reserved and running requests."""
    held = {}
    for request in requests:
        attempt = int_or_none((getattr(request, "request_dict", None) or {}).get(ATTEMPT_HEADER))
        if attempt is not None and getattr(request, "id", None):
            held[request.id] = attempt
    return [[uuid, attempt] for uuid, attempt in sorted(held.items())][:limits.MAX_HELD_JOBS_PER_HEARTBEAT]


def consumer_changes(configured, paused, consuming):
    """``(start, stop)``: the queues a worker must start and stop consuming, sorted.

    ``configured`` are the queues it was started for (its ``-Q``), ``paused`` those paused in Odoo,
    ``consuming`` those it consumes now. It consumes its configured queues that are not paused, and
    never starts on a queue it was not started for, whatever is resumed; a queue an operator added by
    hand (``celery control add_consumer``) is left alone unless it is paused.
    """
    configured, paused, consuming = set(configured), set(paused), set(consuming)
    return sorted(configured - paused - consuming), sorted(consuming & paused)


class QueueConsumption:
    """Which queues the worker's consumer consumes: the queues it was started for, less the paused ones.

    The paused set changes from two threads — the heartbeat's (Odoo's whole list, each beat) and the
    consumer's (a live pause or resume command) — and the consumer itself is only ever changed in
    the consumer's own event loop, where Celery changes it too (``Consumer.call_soon``)."""

    def __init__(self, consumer, configured):
        self.consumer = consumer
        self.configured = frozenset(configured)
        self._paused = frozenset()
        self._lock = threading.Lock()

    def set_paused(self, paused):
        """Odoo's whole list of paused queues (a heartbeat's answer), applied in the consumer's loop even
        when unchanged: the consumer may have been rebuilt since (broker reconnection)."""
        with self._lock:
            self._paused = frozenset(paused)
        self.consumer.call_soon(self.reconcile)

    def pause(self, queues):
        """A live pause (any queue: those this worker does not consume are nothing to it)."""
        with self._lock:
            self._paused |= frozenset(queues)
        self.reconcile()

    def resume(self, queues):
        """A live resume: this worker takes up again those of ``queues`` it was started for."""
        with self._lock:
            self._paused -= frozenset(queues)
        self.reconcile()

    def reconcile(self):
        """Bring the consumer to what it should consume; run in the consumer's event loop."""
        task_consumer = self.consumer.task_consumer
        if task_consumer is None:  # between a lost broker connection and the next: Celery rebuilds it
            return
        consuming = (queue.name for queue in task_consumer.queues)
        start, stop = consumer_changes(self.configured, self._paused, consuming)
        for queue in stop:
            self.consumer.cancel_task_queue(queue)
        for queue in start:
            self.consumer.add_task_queue(queue)


def _consumption(state):
    """The worker's QueueConsumption, once its heartbeat step has started (None before)."""
    for step in getattr(state.consumer, "steps", ()):
        if isinstance(step, HeartbeatStep) and step.consumption is not None:
            return step.consumption
    return None


@control_command(name=PAUSE_QUEUES_COMMAND, variadic="queues", signature="[queue [queue ...]]")
def pause_queues(state, queues=(), **_):
    """Stop consuming these queues (paused in Odoo); a worker that does not consume them ignores it."""
    consumption = _consumption(state)
    if consumption is None:
        return ok("not started yet: the first heartbeat applies the paused queues")
    consumption.pause(queues)
    return ok(f"paused {', '.join(sorted(queues))}")


@control_command(name=RESUME_QUEUES_COMMAND, variadic="queues", signature="[queue [queue ...]]")
def resume_queues(state, queues=(), **_):
    """Consume again those of these queues this worker was started for (resumed in Odoo)."""
    consumption = _consumption(state)
    if consumption is None:
        return ok("not started yet: the first heartbeat applies the paused queues")
    consumption.resume(queues)
    return ok(f"resumed {', '.join(sorted(set(queues) & consumption.configured)) or 'none of its queues'}")


class WorkerHeartbeat:
    """The worker's pulse, from its main process: Odoo's Workers view and alerts, the
    ``celery_workers_active`` gauge, Odoo's answer of which queues are paused, and the jobs this
    worker holds (prefetched or running), so that Odoo can send them again if the worker dies.

    Each beat also wakes the report spool's drain: reports another worker process left behind
    are sent even when this worker has nothing of its own to report."""

    def __init__(self, consumer, consumption):
        self.consumer = consumer
        self.hostname = consumer.hostname
        self.consumption = consumption

    def info(self):
        from celery.worker import state

        pool = self.consumer.pool
        task_consumer = self.consumer.task_consumer
        return {
            "hostname": self.hostname,
            "queues": sorted(queue.name for queue in task_consumer.queues) if task_consumer else [],
            "pool": type(pool).__module__.rsplit(".", 1)[-1],
            "concurrency": int(getattr(pool, "num_processes", None) or getattr(pool, "limit", 0) or 0),
            "active_tasks": len(state.active_requests),
            "interval": runtime.settings().heartbeat_interval,
            # Read in the main process, which receives every message: the pool processes see only
            # the one they run. One list per beat, however many jobs.
            "jobs": held_jobs(list(state.reserved_requests) + list(state.active_requests)),
        }

    def beat(self, client):
        interval = runtime.settings().heartbeat_interval
        runtime.reporter().wake()
        runtime.redis().set(metrics.WORKER_KEY + self.hostname, "1", ex=max(1, int(interval * 3)))
        global_limits = GlobalRateLimits(runtime.redis())
        asked_at = global_limits.clock()
        answer = client.ask("bridge_heartbeat", self.info())
        # Also what a lost pause or resume broadcast missed, and a worker started while a queue was paused.
        self.consumption.set_paused(answer.get("paused_queues") or ())
        rate_limits = answer.get("rate_limits") or {}
        if "rate_limits" in answer:  # an answer without the list (an older Odoo) removes no limit
            # The global limits every worker's jobs take slots of: Odoo's whole list, unless Odoo changed
            # one live since this beat asked (then the next beat's answer has it).
            global_limits.replace_all(rate_limits, asked_at)
        self.apply_rate_limits(rate_limits)

    def apply_rate_limits(self, rate_limits):
        """Celery's own rate limit, per worker, kept as each worker's safety cap under the global one: a
        worker started after a change gets the rate limits set in Odoo too."""
        tasks = self.consumer.app.tasks
        for name, rate in rate_limits.items():
            if name in tasks and tasks[name].rate_limit != rate:
                self.consumer.app.control.rate_limit(name, rate, destination=[self.hostname])

    def run(self):
        client = OdooClient(runtime.settings())
        while True:
            try:
                self.beat(client)
            except Exception as exc:  # noqa: BLE001 - Odoo or Redis away: the next beat tries again
                _logger.warning("Worker heartbeat failed: %s", exc)
            time.sleep(runtime.settings().heartbeat_interval)

    def start(self):
        threading.Thread(target=self.run, name="worker-heartbeat", daemon=True).start()


class HeartbeatStep(bootsteps.StartStopStep):
    """The worker heartbeat as a step of Celery's consumer: started after the task consumer (the queues
    served) and remote control (how a paused queue is stopped) are up. The consumer starts its steps
    again after each broker reconnection; the heartbeat thread, which outlives outages, starts once,
    and the queues the worker was started for are noted then, before any pause applies."""

    requires = ("celery.worker.consumer.tasks:Tasks", "celery.worker.consumer.control:Control")

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.heartbeat = None
        self.consumption = None

    def start(self, parent):
        if self.heartbeat is None:
            self.consumption = QueueConsumption(parent, (queue.name for queue in parent.task_consumer.queues))
            self.heartbeat = WorkerHeartbeat(parent, self.consumption)
            self.heartbeat.start()
