"""The worker under Odoo's control, from its main process: a heartbeat to Odoo's Workers view, and
Odoo's answer applied — paused queues, rate limits. It also tells Odoo which jobs this worker holds,
so that they are sent again if it dies, and wakes the report spool's drain.

It runs as a step of the worker's consumer (HeartbeatStep, added by celery_bridge.celery): it starts
once Celery consumes the worker's queues and can be told to stop consuming one.
"""
import logging
import threading
import time

from celery import bootsteps

from celery_bridge.core import limits
from celery_bridge.core.protocol import ATTEMPT_HEADER
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


class WorkerHeartbeat:
    """The worker's pulse, from its main process: Odoo's Workers view and alerts, the
    ``celery_workers_active`` gauge, Odoo's answer of which queues are paused, and the jobs this
    worker holds (prefetched or running), so that Odoo can send them again if the worker dies.

    Each beat also wakes the report spool's drain: reports another worker process left behind
    are sent even when this worker has nothing of its own to report."""

    def __init__(self, consumer):
        self.consumer = consumer
        self.hostname = consumer.hostname
        self.paused = set()

    def info(self):
        from celery.worker import state

        pool = self.consumer.pool
        return {
            "hostname": self.hostname,
            "queues": sorted(queue.name for queue in self.consumer.task_consumer.queues) if
            self.consumer.task_consumer else [],
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
        answer = client.ask("bridge_heartbeat", self.info())
        self.apply(set(answer.get("paused_queues") or ()))
        self.apply_rate_limits(answer.get("rate_limits") or {})

    def apply(self, paused):
        """Stop consuming paused queues and start again on resumed ones, through Celery's own control."""
        control = self.consumer.app.control
        served = {queue.name for queue in self.consumer.task_consumer.queues} if self.consumer.task_consumer else set()
        for queue in paused & served:
            control.cancel_consumer(queue, destination=[self.hostname])
        for queue in (self.paused - paused):
            control.add_consumer(queue, destination=[self.hostname])
        self.paused = paused

    def apply_rate_limits(self, rate_limits):
        """A worker started after a change gets the rate limits set in Odoo too."""
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
    again after each broker reconnection; the heartbeat thread, which outlives outages, starts once."""

    requires = ("celery.worker.consumer.tasks:Tasks", "celery.worker.consumer.control:Control")

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.heartbeat = None

    def start(self, parent):
        if self.heartbeat is None:
            self.heartbeat = WorkerHeartbeat(parent)
            self.heartbeat.start()
