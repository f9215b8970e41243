"""The task base class: runs a job once and reports its life to Odoo.

Tasks dispatched by Odoo carry the job's attempt, claim key, lease and external service in message
headers; tasks sent by plain Celery code carry none and run as ordinary Celery tasks, reporting
nothing.  Before running, a job claims its key in Redis (so a duplicate or redelivered message
returns the first result) and asks its service's circuit breaker for admission (so a failing
service is left alone: the job is deferred, not failed).  Whether a failure is retried is decided
in Odoo by the task type's retry policy.
"""
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone
from typing import NamedTuple, Optional

from celery import Task, signals
from celery.exceptions import NotRegistered
from celery.signals import (
    after_setup_logger, after_setup_task_logger, task_unknown, worker_init, worker_process_init,
    worker_process_shutdown, worker_ready, worker_shutdown,
)
from celery.utils.objects import Bunch
from celery.worker.consumer import Consumer
from celery.worker.request import Request
from vine import promise

from celery_bridge.broker import circuit
from celery_bridge.core import errors, jobstate, limits, schemas, signing
from celery_bridge.worker import metrics
from celery_bridge.core.scrub import MASK
from celery_bridge.broker.transport import set_aside
from celery_bridge.broker.claims import BUSY, DONE, DUPLICATE, Claims
from celery_bridge.core.idempotency import done_claim_floor
from celery_bridge.broker.producer import (
    ATTEMPT_HEADER,
    COMPANY_HEADER,
    KEY_HEADER,
    KEY_TTL_HEADER,
    LEASE_HEADER,
    SERVICE_HEADER,
    USER_HEADER,
)

_logger = logging.getLogger(__name__)


def utcnow_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _header(request, name):
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def _settings():
    from celery_bridge.celery import settings  # the worker's settings, loaded once per process

    return settings


def _redis():
    from celery_bridge.broker.redis_state import redis_client

    settings = _settings()
    return redis_client(settings.state_redis_url or settings.celery_broker_url)


def _reporter():
    from celery_bridge.worker.odoo_client import get_reporter

    return get_reporter(_settings())


class JobContext(NamedTuple):
    uuid: str
    attempt: int
    key: str
    key_ttl: int
    lease: int
    service: Optional[str]
    company_id: Optional[int]  # the job's company: every read and write of Odoo data is limited to it
    user_id: Optional[int]  # who dispatched the job


def job_context(request):
    attempt = _header(request, ATTEMPT_HEADER)
    if attempt is None:
        return None
    return JobContext(
        uuid=request.id,
        attempt=int(attempt),
        key=_header(request, KEY_HEADER) or f"job:{request.id}",
        key_ttl=int(_header(request, KEY_TTL_HEADER) or 3600),
        lease=int(_header(request, LEASE_HEADER) or 60),
        service=_header(request, SERVICE_HEADER) or None,
        company_id=_int_or_none(_header(request, COMPANY_HEADER)),
        user_id=_int_or_none(_header(request, USER_HEADER)),
    )


def _int_or_none(value):
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class Deferred(Exception):
    """The job did not run and should be tried again later, without counting as a retry."""

    def __init__(self, reason, retry_in):
        super().__init__(reason)
        self.retry_in = retry_in

    def __reduce__(self):  # Celery pickles exceptions; keep retry_in across
        return type(self), (self.args[0], self.retry_in)


class ForgedMessage(Exception):
    """The message is not signed by Odoo: it is not run, and nothing about it is reported (its headers
    cannot be trusted to name a real job)."""


def forgery(task_name, request, args, kwargs):
    """Why a message must not run under signing (``JOB_SIGNING_SECRET`` set), or None."""
    secrets = signing.secrets_of(_settings().job_signing_secret)
    if not secrets:
        return None
    return signing.problem(
        secrets, _header(request, signing.HEADER), task_name, request.id, args, kwargs,
        _int_or_none(_header(request, ATTEMPT_HEADER)), _header(request, KEY_HEADER),
        _int_or_none(_header(request, COMPANY_HEADER)), _int_or_none(_header(request, USER_HEADER)))


class DuplicateDelivery(Exception):
    """Another process is running this very job: this copy of the message is dropped."""


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
            time.sleep(_settings().heartbeat_interval)
            with self._lock:
                running = list(self._jobs.values())
            for context in running:
                try:
                    Claims(_redis()).renew(context.key, context.lease)
                    _reporter().submit({"uuid": context.uuid, "attempt": context.attempt,
                                        "state": jobstate.HEARTBEAT, "at": utcnow_iso()})
                except Exception:  # noqa: BLE001 - next beat tries again
                    _logger.exception("Heartbeat for job %s failed", context.uuid)


_running = RunningJobs()


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

    def _report(self, context, state, **values):
        report = {
            "uuid": context.uuid,
            "attempt": context.attempt,
            "state": state,
            "at": utcnow_iso(),
            "worker": self.request.hostname or socket.gethostname(),
        }
        report.update(values)
        _reporter().submit(report)

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
        breaker = circuit.CircuitBreaker(_redis(), context.service) if context.service else None
        if breaker:
            admission = breaker.admit()
            if not admission.allowed:
                raise Deferred(f"circuit open for {context.service}", admission.retry_in)
        claims = Claims(_redis())
        claim = claims.claim(context.key, context.uuid, context.lease)
        if claim.verdict == DUPLICATE:
            raise DuplicateDelivery(context.uuid)
        if claim.verdict == BUSY:
            raise Deferred("another job with the same idempotency key is running", 5.0)
        self._report(context, jobstate.STARTED, lease=context.lease)
        if claim.verdict == DONE:
            self.request.sdj_runtime = 0.0
            return json.loads(claim.result) if claim.result else None
        _running.add(context)
        started = time.monotonic()
        try:
            result = super().__call__(*args, **kwargs)
        except Exception as exc:
            if breaker and errors.classify(exc) in circuit.COUNTED_ERRORS:
                breaker.record_failure()
            raise
        finally:
            self.request.sdj_runtime = round(time.monotonic() - started, 6)
            _running.remove(context)
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
        runtime = getattr(self.request, "sdj_runtime", None)
        if runtime is not None:
            metrics.TASK_DURATION.labels(self.name).observe(runtime)

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
            Claims(_redis()).release(context.key, context.uuid)
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


@worker_init.connect
def _check_broker_policy(**kwargs):
    from celery_bridge.broker.redis_state import check_noeviction

    try:
        check_noeviction(_redis())
    except RuntimeError as exc:
        _logger.critical("Refusing to start: %s", exc)
        # SystemExit, not an exception: Celery logs and ignores exceptions raised by signal handlers.
        raise SystemExit(f"Refusing to start: {exc}") from None


@worker_init.connect
@worker_process_init.connect
def _keep_done_claims_past_redelivery(**kwargs):
    # Set in the main process before the pool forks, and again in each pool process (a pool
    # process replaced after max_tasks_per_child starts from a fresh fork too).
    Claims.keep_done_claims_for(done_claim_floor(_settings().broker_visibility_timeout))


def held_jobs(requests):
    """``[uuid, attempt]`` of the Odoo jobs among a worker's reserved and running requests."""
    held = {}
    for request in requests:
        attempt = _int_or_none((getattr(request, "request_dict", None) or {}).get(ATTEMPT_HEADER))
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
            "interval": _settings().heartbeat_interval,
            # Read in the main process, which receives every message: the pool processes see only
            # the one they run. One list per beat, however many jobs.
            "jobs": held_jobs(list(state.reserved_requests) + list(state.active_requests)),
        }

    def beat(self, client):
        interval = _settings().heartbeat_interval
        _reporter().wake()
        _redis().set(metrics.WORKER_KEY + self.hostname, "1", ex=max(1, int(interval * 3)))
        answer = client.execute("smart_dairy.job.worker", "bridge_heartbeat", self.info())
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
        from celery_bridge.worker.odoo_client import OdooClient

        client = OdooClient(_settings())
        while True:
            try:
                self.beat(client)
            except Exception as exc:  # noqa: BLE001 - Odoo or Redis away: the next beat tries again
                _logger.warning("Worker heartbeat failed: %s", exc)
            time.sleep(_settings().heartbeat_interval)


@worker_ready.connect
def _start_worker_services(sender=None, **kwargs):
    settings = _settings()
    if settings.metrics_port:
        try:
            metrics.serve(settings.metrics_port, _redis())
        except OSError as exc:
            _logger.error("Prometheus metrics not served on port %s: %s", settings.metrics_port, exc)
    # The main process drains the report spool from now on, idle or not: reports a killed worker
    # left behind reach Odoo without waiting for a task of this worker to report (same lock, same
    # order as every other drainer: odoo_client.Reporter).
    _reporter().start()
    heartbeat = WorkerHeartbeat(sender)
    threading.Thread(target=heartbeat.run, name="worker-heartbeat", daemon=True).start()


def _report_refused_message(message, error_type, error_message):
    """A job whose message the worker cannot run fails at once instead of sitting 'enqueued'."""
    headers = getattr(message, "headers", None) or {}
    attempt = _int_or_none(headers.get(ATTEMPT_HEADER)) if isinstance(headers, dict) else None
    if attempt is None or not headers.get("id") or not isinstance(headers["id"], str):
        return  # not an Odoo job (plain Celery, or not a task at all): nobody to tell
    if signing.secrets_of(_settings().job_signing_secret) and not _signed_by_odoo(message, headers):
        # Its headers may name a real job someone wants failed: only Odoo's own messages are reported.
        _logger.warning("Refused message %s is not signed by Odoo: not reported", headers.get("id"))
        return
    try:
        _submit_failure(headers["id"], attempt, error_type, error_message)
    except Exception:  # noqa: BLE001 - the consumer goes on; Odoo's reaper takes the job back later
        _logger.exception("Could not report the refused job %s to Odoo", headers["id"])


def _signed_by_odoo(message, headers):
    try:
        args, kwargs = message.payload[:2]
    except Exception:  # noqa: BLE001 - an undecodable body cannot be checked, hence is not trusted
        return False
    return signing.problem(
        signing.secrets_of(_settings().job_signing_secret), headers.get(signing.HEADER), headers.get("task"),
        headers.get("id"), args, kwargs, _int_or_none(headers.get(ATTEMPT_HEADER)), headers.get(KEY_HEADER),
        _int_or_none(headers.get(COMPANY_HEADER)), _int_or_none(headers.get(USER_HEADER))) is None


def _submit_failure(job_uuid, attempt, error_type, error_message):
    _reporter().submit({
        "uuid": job_uuid,
        "attempt": attempt,
        "state": jobstate.FAILURE,
        "at": utcnow_iso(),
        "worker": socket.gethostname(),
        "error_type": error_type,
        "error_message": error_message,
    })


@task_unknown.connect
def _report_unknown_task(sender=None, name=None, id=None, message=None, exc=None, **kwargs):
    _report_refused_message(message, errors.UNKNOWN_TASK, f"No worker task named {name!r}: is the worker up to date?")


# --- Secrets never reach the worker's log -------------------------------------------------------
# A job's arguments may hold secrets (a gateway password, an API key). Celery logs a message's whole
# body and headers (whose argsrepr/kwargsrepr repeat the arguments) when it cannot run it: an unknown
# task, an invalid or undecodable message. SecretSafeConsumer (under the app's ``worker_consumer``) handles
# those messages the same way without logging their content; HideJobArguments, on Celery's loggers
# and on every handler the worker sets up, is the net under it for any other record that carries a
# job's arguments (the received/succeeded/failed lines' context, the pool's debug line).

def _header_problem(message):
    """What Celery would choke on past the point of refusing the message cleanly, or None: a time
    limit that is not two numbers wedges a pool slot instead of raising."""
    headers = getattr(message, "headers", None)
    if not isinstance(headers, dict):
        return None  # Celery refuses it itself (not a task)
    time_limits = headers.get("timelimit")
    if time_limits is None:
        return None
    if not isinstance(time_limits, (list, tuple)) or len(time_limits) != 2 or not all(
            limit is None or (isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 0)
            for limit in time_limits):
        return "invalid timelimit header"
    return None


def _describe_message(message):
    headers = getattr(message, "headers", None)
    headers = headers if isinstance(headers, dict) else {}
    body = getattr(message, "body", None) or b""
    return (f"task {headers.get('task')!r}, id {headers.get('id')!r}, content type "
            f"{getattr(message, 'content_type', None)!r}, {len(body)} bytes; body and arguments not logged")


class SecretSafeConsumer(Consumer):
    """Celery's consumer, refusing messages it cannot run exactly as Celery does (reject, mark the
    result failed, send the signals) but logging only the task's name and id, never the message.

    A message Celery cannot take at all (no task id, headers of the wrong types...) would raise out
    of its handler into the consumer, which restarts, gets the message back and fails again, for
    ever: it is moved aside instead (``<queue>:poison``, celery_bridge.broker.transport), as an item that is
    not a message."""

    def create_task_handler(self, promise=promise):
        handle = super().create_task_handler(promise)
        # kombu's Redis transport counts KeyError as a connection error: here it is a header missing.
        broker_faults = tuple(error for error in self.connection_errors if not issubclass(error, LookupError))

        def on_task_received(message):
            problem = _header_problem(message)
            if problem:
                return self.on_malformed_message(message, problem)
            try:
                return handle(message)
            except broker_faults:
                raise  # the broker's fault, not the message's: Celery reconnects
            except Exception as exc:  # noqa: BLE001 - anything else is this message's fault, never the worker's end
                return self.on_malformed_message(message, type(exc).__name__)

        return on_task_received

    def on_malformed_message(self, message, problem):
        _logger.error("Received a message Celery cannot take: %s (%s)", problem, _describe_message(message))
        set_aside(message, f"Celery cannot take it: {problem}")
        if not message.acknowledged:
            message.ack_log_error(_logger, self.connection_errors)
        _report_refused_message(message, errors.VALIDATION, f"The worker refused the job's message: {problem}")

    def on_unknown_message(self, body, message):
        _logger.warning("Received a message that is not a task (%s)", _describe_message(message))
        set_aside(message, "not a task")
        message.reject_log_error(_logger, self.connection_errors)
        signals.task_rejected.send(sender=self, message=message, exc=None)

    def on_unknown_task(self, body, message, exc):
        try:
            id_, name = message.headers["id"], message.headers["task"]
            root_id = message.headers.get("root_id")
        except (KeyError, TypeError):  # protocol 1: the task is named in the body
            payload = message.payload
            id_, name, root_id = payload["id"], payload["task"], None
        _logger.error("Received a task no worker task is registered for, discarded (%s)",
                      _describe_message(message))
        request = Bunch(
            name=name, chord=None, root_id=root_id,
            correlation_id=message.properties.get("correlation_id"),
            reply_to=message.properties.get("reply_to"),
            errbacks=None,
        )
        message.reject_log_error(_logger, self.connection_errors)
        self.app.backend.mark_as_failure(id_, NotRegistered(name), request=request)
        if self.event_dispatcher:
            self.event_dispatcher.send("task-failed", uuid=id_, exception=f"NotRegistered({name!r})")
        signals.task_unknown.send(sender=self, message=message, exc=exc, name=name, id=id_)

    def on_invalid_task(self, body, message, exc):
        _logger.error("Received an invalid task message, discarded: %s (%s)", type(exc).__name__,
                      _describe_message(message))
        message.reject_log_error(_logger, self.connection_errors)
        signals.task_rejected.send(sender=self, message=message, exc=exc)
        _report_refused_message(message, errors.VALIDATION, f"The worker refused the job's message: "
                                                           f"{type(exc).__name__}")

    def on_decode_error(self, message, exc):
        _logger.critical("Cannot decode a message: %s (%s)", type(exc).__name__, _describe_message(message))
        set_aside(message, f"undecodable body: {type(exc).__name__}")
        message.ack()
        _report_refused_message(message, errors.VALIDATION, "The worker could not decode the job's message")


# Celery's templates that print a message's body or headers: replaced by a line without them.
_BODY_TEMPLATES = ("The full contents of the message body", "Can't decode message body")
_ARGUMENT_FIELDS = ("args", "kwargs", "argsrepr", "kwargsrepr", "body", "headers")


class HideJobArguments(logging.Filter):
    """Masks a job's arguments and message body in Celery's log records (never drops a record)."""

    def filter(self, record):
        message = record.msg if isinstance(record.msg, str) else ""
        if any(template in message for template in _BODY_TEMPLATES):
            first_line = message.strip().splitlines()[0].split("%")[0].strip()
            record.msg, record.args = "%s (message content not logged)", (first_line,)
            record.exc_info = record.exc_text = None
        elif message.startswith("TaskPool: Apply") and isinstance(record.args, tuple) and record.args:
            record.args = (record.args[0],) + (MASK,) * (len(record.args) - 1)
        elif isinstance(record.args, dict):
            record.args = self._masked(record.args)
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            record.data = self._masked(data)
        return True

    @staticmethod
    def _masked(context):
        return {key: MASK if key in _ARGUMENT_FIELDS and value not in (None, "") else value
                for key, value in context.items()}


HIDE_JOB_ARGUMENTS = HideJobArguments()
CELERY_LOGGERS = ("celery", "celery.worker.strategy", "celery.app.trace", "celery.pool", "celery.worker.request",
                  "celery.worker.consumer.consumer", "celery.worker.consumer", "celery.redirected", "kombu")


def install_log_filter(*loggers):
    for logger in loggers or [logging.getLogger(name) for name in CELERY_LOGGERS]:
        if HIDE_JOB_ARGUMENTS not in logger.filters:
            logger.addFilter(HIDE_JOB_ARGUMENTS)
        for handler in logger.handlers:
            if HIDE_JOB_ARGUMENTS not in handler.filters:
                handler.addFilter(HIDE_JOB_ARGUMENTS)


install_log_filter()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _hide_job_arguments_in_logs(logger=None, **kwargs):
    """Every handler the worker logs through masks job arguments, whichever logger a record came from."""
    install_log_filter(logger or logging.getLogger())


@worker_process_shutdown.connect
def _forget_process_metrics(pid=None, **kwargs):
    metrics.process_exited(pid or os.getpid())


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_reports(**kwargs):
    from celery_bridge.worker.odoo_client import _reporter as reporter

    if reporter is not None and not reporter.flush(timeout=5.0):
        _logger.warning("Worker stopping with job reports still in the spool; another worker will send them")
