"""Leases: while a job runs, its process renews the job's claim in Redis and tells Odoo it is alive,
every HEARTBEAT_INTERVAL. A job whose heartbeats stop (its worker died) loses its claim when the lease
runs out, and Odoo's reaper takes it back.

Pool processes run the jobs, so each keeps its own thread (started with its first job), not the
worker's main process.
"""
import logging
import threading
import time

from celery_bridge.broker.claims import Claims
from celery_bridge.core import jobstate
from celery_bridge.worker import runtime

_logger = logging.getLogger(__name__)


class RunningJobs:
    """The jobs this process runs, whose leases and claims a heartbeat thread renews."""

    def __init__(self):
        self._jobs = {}
        self._lock = threading.Lock()
        self._thread = None

    def add(self, context):
        with self._lock:
            self._jobs[context.uuid] = context
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)
            self._thread.start()

    def remove(self, context):
        with self._lock:
            self._jobs.pop(context.uuid, None)

    def _beat(self):
        while True:
            time.sleep(runtime.settings().heartbeat_interval)
            with self._lock:
                running = list(self._jobs.values())
            for context in running:
                try:
                    Claims(runtime.redis()).renew(context.key, context.lease)
                    runtime.reporter().submit({"uuid": context.uuid, "attempt": context.attempt,
                                               "state": jobstate.HEARTBEAT, "at": runtime.utcnow_iso()})
                except Exception:  # noqa: BLE001 - next beat tries again
                    _logger.exception("Heartbeat for job %s failed", context.uuid)


running_jobs = RunningJobs()
