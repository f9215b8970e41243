"""What a dispatch may ask, checked without Odoo: options, JSON arguments, priority, countdown/eta
and whether a job gets an idempotency key. Odoo's dispatch (addons/smart_dairy_jobs/engine/dispatch.py)
turns a ``DispatchRefused`` into the caller's ValidationError; nothing here reads the database.
"""
import json
import math
from datetime import date, datetime, timedelta

from celery_bridge.core import flows, jobstate, limits

# What a caller may ask of a dispatch. Not the origin: the server tells it.
DISPATCH_OPTIONS = (
    "queue", "priority", "countdown", "eta", "res_model", "res_id",
    "idempotency_key", "idempotent", "idempotency_scope",
    "depends_on", "on_dependency_failure",
)
IDEMPOTENCY_OPTIONS = frozenset({"idempotency_key", "idempotent", "idempotency_scope"})


class DispatchRefused(ValueError):
    """A dispatch asked for something it may not have; the message says what, for the caller."""


def check_options(options):
    unknown = sorted(set(options) - set(DISPATCH_OPTIONS))
    if unknown:
        raise DispatchRefused("Unknown dispatch option(s): %s. Known options: %s."
                              % (", ".join(map(str, unknown))[:200], ", ".join(DISPATCH_OPTIONS)))


def check_task_name(task_name):
    if not isinstance(task_name, str) or not task_name or len(task_name) > limits.MAX_NAME_LENGTH:
        raise DispatchRefused("The task name must be a non-empty string.")


def check_queue_name(queue):
    if not isinstance(queue, str) or len(queue) > limits.MAX_NAME_LENGTH:
        raise DispatchRefused("queue must be the name of a queue, such as celery:high.")


def check_priority(priority):
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 9:
        raise DispatchRefused("Priority must be a whole number from 0 (first) to 9 (last).")
    return priority


def decode_json_argument(value, expected_type, label):
    """``value`` (JSON text, a list/tuple or a dict) as ``expected_type``, holding JSON values only."""
    if value is None or value is False:
        return expected_type()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise DispatchRefused("%s is not valid JSON: %s" % (label, exc)) from None
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, expected_type):
        kind = "a JSON array" if expected_type is list else "a JSON object"
        raise DispatchRefused("%s must be %s." % (label, kind))
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DispatchRefused("%s must hold only JSON values (text, numbers, booleans, null, lists, objects): %s"
                              % (label, exc)) from None
    return value


def check_kwargs_keys(kwargs):
    if any(not isinstance(key, str) for key in kwargs):
        raise DispatchRefused("The keys of kwargs must be strings.")


def _to_datetime(value):
    """Odoo's Datetime.to_datetime without Odoo: a datetime, a date, or 'YYYY-MM-DD[ HH:MM:SS]'."""
    if isinstance(value, datetime):
        if value.tzinfo:
            raise ValueError("aware datetime")
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and value:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S"[:len(value) - 2])
    return None


def requested_eta(countdown, eta, now):
    """When the caller wants the job run (naive UTC), or False for now; ``now`` is naive UTC."""
    if countdown not in (None, False) and eta not in (None, False):
        raise DispatchRefused("Give either countdown or eta, not both.")
    horizon = limits.MAX_PLANNING_SECONDS
    if countdown not in (None, False):
        # Bounds before isfinite: math.isfinite(10**400) overflows; nan fails every comparison.
        if (not isinstance(countdown, (int, float)) or isinstance(countdown, bool)
                or not 0 <= countdown <= horizon or not math.isfinite(countdown)):
            raise DispatchRefused("countdown must be a number of seconds from 0 to %s." % horizon)
        return now + timedelta(seconds=countdown) if countdown else False
    if eta not in (None, False):
        try:
            planned = _to_datetime(eta)
        except (TypeError, ValueError, OverflowError):
            planned = None
        if not planned:
            raise DispatchRefused("eta must be a UTC date and time such as 2026-01-31 14:00:00, got %r."
                                  % str(eta)[:40])
        if planned > now + timedelta(seconds=horizon):
            raise DispatchRefused("eta may be at most %s days ahead." % (horizon // 86400))
        return planned
    return False


def dependency_request(depends_on, on_failure):
    """(job ids, rule) of a job's ``depends_on`` and ``on_dependency_failure`` options: ids of jobs it
    waits for (at most limits.MAX_DEPENDENCIES, repeats dropped), and what becomes of it if one of them
    fails or is cancelled (core.flows: "cancel", the default, or "wait")."""
    if on_failure in (None, False):
        on_failure = flows.ON_FAILURE_CANCEL
    if not isinstance(on_failure, str) or on_failure not in flows.ON_FAILURE_RULES:
        raise DispatchRefused("on_dependency_failure must be one of %s." % ", ".join(sorted(flows.ON_FAILURE_RULES)))
    if depends_on in (None, False):
        depends_on = []
    if isinstance(depends_on, int) and not isinstance(depends_on, bool):
        depends_on = [depends_on]
    if not isinstance(depends_on, (list, tuple)) or not all(
            isinstance(ref, int) and not isinstance(ref, bool) and 0 < ref < 2**31 for ref in depends_on):
        raise DispatchRefused("depends_on must be a list of job ids.")
    ids = list(dict.fromkeys(depends_on))
    if len(ids) > limits.MAX_DEPENDENCIES:
        raise DispatchRefused("A job may depend on at most %s jobs." % limits.MAX_DEPENDENCIES)
    return ids, on_failure


def initial_state(dependencies, on_failure):
    """The state a new job waiting for ``dependencies`` ((job id, state) pairs) starts in: pending when
    they all succeeded already, else waiting. Refused when one already failed or was cancelled and the
    rule would cancel the job at once: the caller hears it now rather than finding a job that never had
    a chance."""
    dependencies = list(dependencies)
    judgement = flows.judge_dependent(jobstate.WAITING, [state for _id, state in dependencies], on_failure)
    if judgement.decision == flows.CANCEL:
        job_id, state = dependencies[judgement.culprit]
        raise DispatchRefused(
            "Job %s, which it would depend on, has %s: with on_dependency_failure='cancel' it could never run "
            "(requeue that job first, or choose 'wait')."
            % (job_id, "failed" if state == jobstate.FAILURE else "been cancelled"))
    return jobstate.PENDING if judgement.decision == flows.RELEASE else jobstate.WAITING


def idempotency_request(task_idempotency, options):
    """(explicit key or None, scope) when the job must carry an idempotency key, else None.

    ``task_idempotency`` is the task type's setting (none, global, user, company). Every scope lives
    inside the job's company and task (idempotency.make_key): "global" means every user of the
    company, never another company's jobs.
    """
    explicit_key = options.get("idempotency_key")
    wanted = options.get("idempotent")
    if wanted is None:
        wanted = bool(explicit_key) or task_idempotency != "none"
    if not wanted and not explicit_key:
        return None
    if explicit_key is not None and (not isinstance(explicit_key, str) or not explicit_key.strip()):
        raise DispatchRefused("idempotency_key must be a non-empty string.")
    if explicit_key and len(explicit_key) > limits.MAX_IDEMPOTENCY_KEY_LENGTH:
        raise DispatchRefused("idempotency_key may have at most %s characters." % limits.MAX_IDEMPOTENCY_KEY_LENGTH)
    scope = options.get("idempotency_scope") or (task_idempotency if task_idempotency != "none" else "global")
    if not isinstance(scope, str):
        raise DispatchRefused("idempotency_scope must be one of global, user, company.")
    return explicit_key, scope
