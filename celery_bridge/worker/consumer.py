"""The worker's consumer (the app's ``worker_consumer``): Celery's, refusing the messages it cannot
run without ever logging their content, and surviving broker outages of any length.

Refusals (SecretSafeConsumer): an unknown task, a message that is not a task, an invalid or
undecodable one are refused exactly as Celery does (reject, mark the result failed, send the
signals) but the log names only the task and id — job arguments may hold secrets — and an Odoo job
refused this way is reported failed at once instead of sitting 'enqueued'.

Outages (BridgeConsumer): Celery gives up reconnecting after ``broker_connection_max_retries`` and the
worker exits; the app sets it to None (for ever) and here the wait between two attempts grows by 2 s
up to ``BROKER_RETRY_MAX_INTERVAL``. Meanwhile the worker says it is degraded: a log line when the
connection is lost and one when it is back (with the outage's length), Celery's own line for every
attempt, the ``celery_broker_connected`` / ``celery_broker_outage_seconds`` gauges and the
``celery_broker_reconnects_total`` counter, and ``python -m celery_bridge.worker.healthcheck``.
"""
import functools
import logging
import socket

from celery import signals
from celery.exceptions import NotRegistered
from celery.utils.objects import Bunch
from celery.worker.consumer import Consumer
from vine import promise

from celery_bridge.broker.transport import set_aside
from celery_bridge.core import errors, jobstate, protocol, signing
from celery_bridge.core.protocol import ATTEMPT_HEADER, COMPANY_HEADER, KEY_HEADER, USER_HEADER
from celery_bridge.worker import metrics, runtime
from celery_bridge.worker.context import int_or_none

_logger = logging.getLogger(__name__)

FIRST_RETRY_INTERVAL = 2.0  # kombu's start and step of the back-off
RETRY_INTERVAL_STEP = 2.0


# --- Refused messages, reported to Odoo ----------------------------------------------------------

def report_refused_message(message, error_type, error_message):
    """A job whose message the worker cannot run fails at once instead of sitting 'enqueued'."""
    headers = getattr(message, "headers", None) or {}
    attempt = int_or_none(headers.get(ATTEMPT_HEADER)) if isinstance(headers, dict) else None
    if attempt is None or not headers.get("id") or not isinstance(headers["id"], str):
        return  # not an Odoo job (plain Celery, or not a task at all): nobody to tell
    if signing.secrets_of(runtime.settings().job_signing_secret) and not _signed_by_odoo(message, headers):
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
        signing.secrets_of(runtime.settings().job_signing_secret), headers.get(signing.HEADER), headers.get("task"),
        headers.get("id"), args, kwargs, int_or_none(headers.get(ATTEMPT_HEADER)), headers.get(KEY_HEADER),
        int_or_none(headers.get(COMPANY_HEADER)), int_or_none(headers.get(USER_HEADER)),
        headers.get(protocol.DEPENDENCY_RESULTS_HEADER)) is None


def _submit_failure(job_uuid, attempt, error_type, error_message):
    runtime.reporter().submit({
        "uuid": job_uuid,
        "attempt": attempt,
        "state": jobstate.FAILURE,
        "at": runtime.utcnow_iso(),
        "worker": socket.gethostname(),
        "error_type": error_type,
        "error_message": error_message,
    })


def header_problem(message):
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
            problem = header_problem(message)
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
        report_refused_message(message, errors.VALIDATION, f"The worker refused the job's message: {problem}")

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
        report_refused_message(message, errors.VALIDATION, f"The worker refused the job's message: "
                                                          f"{type(exc).__name__}")

    def on_decode_error(self, message, exc):
        _logger.critical("Cannot decode a message: %s (%s)", type(exc).__name__, _describe_message(message))
        set_aside(message, f"undecodable body: {type(exc).__name__}")
        message.ack()
        report_refused_message(message, errors.VALIDATION, "The worker could not decode the job's message")


class BridgeConsumer(SecretSafeConsumer):
    """The app's ``worker_consumer``: SecretSafeConsumer, reconnecting to the broker for ever."""

    def ensure_connected(self, conn):
        longest = max(0.1, float(runtime.settings().broker_retry_max_interval))
        # Celery calls conn.ensure_connection(errback, max_retries, callback=...) with kombu's default
        # back-off (up to 30 s): the same call, with our ceiling.
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=min(FIRST_RETRY_INTERVAL, longest),
            interval_step=RETRY_INTERVAL_STEP, interval_max=longest)
        return super().ensure_connected(conn)

    def connection_for_read(self, heartbeat=None):
        connection = super().connection_for_read(heartbeat=heartbeat)  # returns once connected
        outage = metrics.BROKER.outage_seconds()
        if metrics.BROKER.up():
            _logger.warning("Broker connection re-established after %.0f s without it: consuming again", outage)
        return connection

    def on_connection_error_before_connected(self, exc):
        self._lost(exc)
        return super().on_connection_error_before_connected(exc)

    def on_connection_error_after_connected(self, exc):
        self._lost(exc)
        return super().on_connection_error_after_connected(exc)

    @staticmethod
    def _lost(exc):
        if metrics.BROKER.down():
            _logger.error("Broker connection lost (%s: %s): the worker is degraded and retries for ever, at most "
                          "%s s apart; jobs wait in the broker or in Odoo meanwhile", type(exc).__name__, exc,
                          runtime.settings().broker_retry_max_interval)
