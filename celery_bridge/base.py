"""The task base class: runs the task and reports its life to Odoo.

Tasks dispatched by Odoo carry the job's attempt number in a message header; tasks sent by plain
Celery code carry none and run as ordinary Celery tasks, reporting nothing.
"""
import json
import logging
import socket
import time
from datetime import datetime, timezone

from celery import Task
from celery.worker.request import Request
from celery.signals import task_unknown, worker_process_shutdown, worker_shutdown

from . import errors, jobstate
from .producer import ATTEMPT_HEADER, MAX_RETRIES_HEADER

_logger = logging.getLogger(__name__)


def utcnow_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _header(request, name):
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def _reporter():
    from .celery import settings  # the worker's settings, loaded once per process
    from .odoo_client import get_reporter

    return get_reporter(settings)


class OdooJobRequest(Request):
    """The worker's handle on one message; its hard time-out runs in the parent process."""

    def on_timeout(self, soft, timeout):
        if soft:
            return super().on_timeout(soft, timeout)
        # The killed child cannot report; the parent reports for it, with the message's own
        # context so the report names this job and attempt.
        self.task.push_request(**self._request_dict)
        try:
            return super().on_timeout(soft, timeout)
        finally:
            self.task.pop_request()


class OdooJobTask(Task):
    abstract = True
    Request = OdooJobRequest

    def _job_attempt(self):
        attempt = _header(self.request, ATTEMPT_HEADER)
        return int(attempt) if attempt is not None else None

    def _report(self, state, **values):
        attempt = self._job_attempt()
        if attempt is None:
            return
        report = {
            "uuid": self.request.id,
            "attempt": attempt,
            "state": state,
            "at": utcnow_iso(),
            "worker": self.request.hostname or socket.gethostname(),
        }
        report.update(values)
        _reporter().submit(report)

    def before_start(self, task_id, args, kwargs):
        self.request.sdj_started = time.monotonic()
        self._report(jobstate.STARTED)

    def _runtime(self):
        started = getattr(self.request, "sdj_started", None)
        return round(time.monotonic() - started, 6) if started is not None else 0.0

    def report_progress(self, percent, message=""):
        """Tell Odoo how far the task is (0-100); shown live on the job's form."""
        self._report(jobstate.PROGRESS, progress=max(0, min(100, int(percent))), progress_message=message)

    def on_success(self, retval, task_id, args, kwargs):
        self._report(jobstate.SUCCESS, result=json.dumps(retval, default=str), runtime=self._runtime())

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        attempt = self._job_attempt()
        if attempt is None:
            return
        error_type = errors.classify(exc)
        max_retries = int(_header(self.request, MAX_RETRIES_HEADER) or 0)
        decision = errors.retry_decision(error_type, attempt, max_retries, errors.retry_after_of(exc))
        self._report(
            jobstate.RETRY if decision.retry else jobstate.FAILURE,
            error_type=error_type,
            error_message=f"{type(exc).__name__}: {exc}",
            traceback=str(einfo.traceback) if einfo else "",
            retry_in=decision.delay,
            runtime=self._runtime(),
        )


@task_unknown.connect
def _report_unknown_task(sender=None, name=None, id=None, message=None, exc=None, **kwargs):
    """A job whose task this worker does not have would otherwise sit 'enqueued' forever."""
    headers = getattr(message, "headers", None) or {}
    attempt = headers.get(ATTEMPT_HEADER)
    if attempt is None:
        return
    _reporter().submit({
        "uuid": id,
        "attempt": int(attempt),
        "state": jobstate.FAILURE,
        "at": utcnow_iso(),
        "worker": socket.gethostname(),
        "error_type": errors.UNKNOWN_TASK,
        "error_message": f"No worker task named {name!r}: is the worker up to date?",
    })


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_reports(**kwargs):
    from .odoo_client import _reporter as reporter

    if reporter is not None and not reporter.flush(timeout=10.0):
        _logger.error("Worker stopping with job reports still undelivered to Odoo")
