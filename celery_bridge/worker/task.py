"""The task class of every worker task (the worker app's ``task_cls``): runs a job once and reports
its life to Odoo.

Before running, a job claims its key in Redis (so a duplicate or redelivered message returns the
first result), takes a slot of its task type's global rate limit (celery_bridge.broker.rate_limits) and
asks its service's circuit breaker for admission (so a failing service is left alone): when either
says no, the job is deferred, not failed. While it runs, its lease is renewed (worker.leases).
Whether a failure is retried is decided in Odoo by the task type's retry policy.
"""
import json
import logging
import socket
import time

from celery import Task
from celery.worker.request import Request

from celery_bridge.broker import circuit, rate_limits
from celery_bridge.broker.claims import BUSY, DONE, DUPLICATE, Claims
from celery_bridge.core import errors, jobstate, schemas
from celery_bridge.core.scrub import MASK
from celery_bridge.worker import metrics, runtime
from celery_bridge.worker.context import (
    Deferred, DuplicateDelivery, ForgedMessage, forgery, job_context,
)
from celery_bridge.worker.leases import running_jobs

_logger = logging.getLogger(__name__)


class OdooJobRequest(Request):
    """The worker's handle on one message; its hard time-out runs in the parent process."""

    def info(self, safe=False):
        # What `celery inspect active/reserved/scheduled` answers any broker client: never the
        # job's arguments (they may hold secrets); Odoo shows them, masked, to those allowed.
        info = super().info(safe=True)
        info["args"] = info["kwargs"] = MASK
        return info

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
    # A deferral (rate limit, open circuit) or a duplicate is the normal run of things, not an error:
    # Celery logs it in one line at INFO, without a traceback.
    throws = (Deferred, DuplicateDelivery)

    def _report(self, context, state, **values):
        report = {
            "uuid": context.uuid,
            "attempt": context.attempt,
            "state": state,
            "at": runtime.utcnow_iso(),
            "worker": self.request.hostname or socket.gethostname(),
        }
        report.update(values)
        runtime.reporter().submit(report)

    def __call__(self, *args, **kwargs):
        metrics.TASKS_TOTAL.labels(self.name, metrics.queue_of(self.request), "started").inc()
        refused = forgery(self.name, self.request, args, kwargs)
        if refused:
            # Signing is on: only Odoo's messages run — never a plain Celery call or a message someone
            # wrote into the broker, which could otherwise start a backup or claim another company.
            raise ForgedMessage(f"{self.name}[{self.request.id}] refused: {refused}")
        context = job_context(self.request)
        if context is None:
            return super().__call__(*args, **kwargs)
        try:
            # The same schema Odoo checked at dispatch: a message that does not fit (forged, or from
            # an older Odoo) is refused as invalid input and never run.
            schemas.check_call(self.name, args, kwargs)
        except schemas.ArgumentError as exc:
            raise errors.InvalidInput(f"arguments refused: {exc}") from None
        if context.attempt > 1:
            metrics.TASK_RETRIES.labels(self.name).inc()
        # A slot of the task type's global rate limit first (all workers together); none free soon: the
        # job waits in Odoo, its retries untouched. Taken before the circuit's admission, which may hand
        # this job the one half-open probe; a slot taken by a job that then does not run only slows.
        slot = rate_limits.GlobalRateLimits(runtime.redis()).take(
            self.name, rate_limits.start_token(context.uuid, context.attempt))
        if not slot.allowed:
            metrics.TASK_RATE_LIMITED.labels(self.name).inc()
            raise Deferred(f"global rate limit {slot.rate} of {self.name} reached", slot.retry_in)
        breaker = circuit.CircuitBreaker(runtime.redis(), context.service) if context.service else None
        if breaker:
            admission = breaker.admit()
            if not admission.allowed:
                raise Deferred(f"circuit open for {context.service}", admission.retry_in)
        claims = Claims(runtime.redis())
        claim = claims.claim(context.key, context.uuid, context.lease)
        if claim.verdict == DUPLICATE:
            raise DuplicateDelivery(context.uuid)
        if claim.verdict == BUSY:
            raise Deferred("another job with the same idempotency key is running", 5.0)
        self._report(context, jobstate.STARTED, lease=context.lease)
        if claim.verdict == DONE:
            self.request.sdj_runtime = 0.0
            return json.loads(claim.result) if claim.result else None
        running_jobs.add(context)
        started = time.monotonic()
        try:
            result = super().__call__(*args, **kwargs)
        except Exception as exc:
            if breaker and errors.classify(exc) in circuit.COUNTED_ERRORS:
                breaker.record_failure()
            raise
        finally:
            self.request.sdj_runtime = round(time.monotonic() - started, 6)
            running_jobs.remove(context)
        claims.finish(context.key, context.uuid, json.dumps(result, default=str), context.key_ttl)
        if breaker:
            breaker.record_success()
        return result

    @property
    def job_context(self):
        """The running job's context (uuid, attempt, company, user...), or None outside an Odoo job."""
        return job_context(self.request)

    def job_company_id(self):
        """The company whose data this job may touch; a job without one touches no Odoo data."""
        context = job_context(self.request)
        if context is None or not context.company_id:
            raise errors.PermissionDenied("this task reads or writes Odoo data: it needs a job dispatched by Odoo "
                                          "for a company")
        return context.company_id

    def report_progress(self, percent, message=""):
        """Tell Odoo how far the task is (0-100); shown live on the job's form."""
        context = job_context(self.request)
        if context:
            self._report(context, jobstate.PROGRESS, progress=max(0, min(100, int(percent))),
                         progress_message=message)

    def _count(self, state):
        metrics.TASKS_TOTAL.labels(self.name, metrics.queue_of(self.request), state).inc()
        runtime_seconds = getattr(self.request, "sdj_runtime", None)
        if runtime_seconds is not None:
            metrics.TASK_DURATION.labels(self.name).observe(runtime_seconds)

    def on_success(self, retval, task_id, args, kwargs):
        self._count("success")
        context = job_context(self.request)
        if context:
            self._report(context, jobstate.SUCCESS, result=json.dumps(retval, default=str),
                         runtime=getattr(self.request, "sdj_runtime", 0.0))

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, (Deferred, DuplicateDelivery)):
            self._count("deferred" if isinstance(exc, Deferred) else "duplicate")
        else:
            self._count("failure")
        context = job_context(self.request)
        if context is None or isinstance(exc, (DuplicateDelivery, ForgedMessage)):
            return
        if isinstance(exc, Deferred):
            self._report(context, jobstate.RETRY, retry_in=exc.retry_in, deferred_reason=str(exc))
            return
        try:
            Claims(runtime.redis()).release(context.key, context.uuid)
        except Exception:  # noqa: BLE001 - the claim expires with the lease anyway
            _logger.exception("Could not release the claim of job %s", context.uuid)
        self._report(
            context, jobstate.FAILURE,
            error_type=errors.classify(exc),
            error_message=f"{type(exc).__name__}: {exc}",
            traceback=str(einfo.traceback) if einfo else "",
            retry_after=errors.retry_after_of(exc),
            runtime=getattr(self.request, "sdj_runtime", 0.0),
        )
