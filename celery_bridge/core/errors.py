"""Typed errors task authors raise, and how each kind of error is retried (spec B-009 §2.2, §3, §6.1).

Task code raises ``NetworkTimeout``, ``RateLimited``… instead of writing retry code; the task base
class classifies whatever escaped, Odoo asks ``retry_decision`` what to do with the task type's
``RetryPolicy`` (its retry delay, backoff, cap and per error class rules, seeded from the spec).
"""
import math
import random
import socket
from typing import NamedTuple, Optional

NETWORK_TIMEOUT = "network_timeout"
DATABASE_LOCK = "database_lock"
RATE_LIMITED = "rate_limited"
VALIDATION = "validation"
PERMISSION = "permission"
NOT_FOUND = "not_found"
TIME_LIMIT = "time_limit"
UNKNOWN_TASK = "unknown_task"
WORKER_LOST = "worker_lost"
INTERNAL = "internal"

ERROR_TYPES = [
    (NETWORK_TIMEOUT, "Network timeout"),
    (DATABASE_LOCK, "Database lock"),
    (RATE_LIMITED, "Rate limited"),
    (VALIDATION, "Validation error"),
    (PERMISSION, "Permission error"),
    (NOT_FOUND, "Resource not found"),
    (TIME_LIMIT, "Time limit exceeded"),
    (UNKNOWN_TASK, "Task unknown to the worker"),
    (WORKER_LOST, "Worker lost (lease expired)"),
    (INTERNAL, "Internal error"),
]


class JobError(Exception):
    """An error of a job; ``retry_after`` is the wait the other side asked for (HTTP ``Retry-After``)."""

    error_type = INTERNAL

    def __init__(self, message="job failed", retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self):  # Celery pickles exceptions; keep retry_after across
        return type(self), (self.args[0], self.retry_after)


class NetworkTimeout(JobError):
    error_type = NETWORK_TIMEOUT


class DatabaseLock(JobError):
    error_type = DATABASE_LOCK


class RateLimited(JobError):
    error_type = RATE_LIMITED

    def __init__(self, message="rate limited", retry_after=None):
        super().__init__(message, retry_after)


class InvalidInput(JobError):
    error_type = VALIDATION


class Refused(InvalidInput):
    """The other side (mail server, SMS provider, gateway) said no for good; sending again cannot help."""


class UnexpectedReply(InvalidInput):
    """The other side answered something this code cannot read: whether it acted is unknown, so the
    call is not repeated (an SMS sent again could reach the phone twice)."""


class PermissionDenied(JobError):
    error_type = PERMISSION


class NotFound(JobError):
    error_type = NOT_FOUND


STRATEGIES = [
    ("backoff", "Backoff (the task type's retry delay, exponential or fixed)"),
    ("immediate", "Immediate retry"),
    ("delayed", "Delayed retry (Retry-After)"),
    ("never", "No retry"),
]


class Policy(NamedTuple):
    strategy: str  # one of STRATEGIES
    max_retries: int
    delay: float = 0.0  # "delayed": wait this long when the error gives no Retry-After


POLICIES = {
    NETWORK_TIMEOUT: Policy("backoff", 5),
    DATABASE_LOCK: Policy("immediate", 3),
    RATE_LIMITED: Policy("delayed", 10, 60.0),  # 60 s when the error gives no Retry-After
    VALIDATION: Policy("never", 0),
    PERMISSION: Policy("never", 0),
    NOT_FOUND: Policy("never", 0),
    TIME_LIMIT: Policy("never", 0),
    UNKNOWN_TASK: Policy("never", 0),
    WORKER_LOST: Policy("immediate", 3),
    # Whatever the code does not classify: B-009 §2.2's defaults (task_max_retries 3, backoff).
    INTERNAL: Policy("backoff", 3),
}
# B-009 §2.2, the task types' defaults: task_default_retry_delay, task_max_retries, task_retry_backoff_max.
DEFAULT_RETRY_DELAY = 60.0
DEFAULT_MAX_RETRIES = 3
BACKOFF_MAX = 600.0
# PostgreSQL SQLSTATEs that mean "someone else holds it, try again".
LOCK_SQLSTATES = {"55P03", "40P01", "40001"}


def classify(exc):
    """The error type of an exception raised by a task."""
    if isinstance(exc, JobError):
        return exc.error_type
    name = type(exc).__name__
    if name in ("SoftTimeLimitExceeded", "TimeLimitExceeded"):
        return TIME_LIMIT
    if getattr(exc, "pgcode", None) in LOCK_SQLSTATES:
        return DATABASE_LOCK
    if isinstance(exc, (TimeoutError, socket.timeout, ConnectionError)):
        return NETWORK_TIMEOUT
    if isinstance(exc, PermissionError):
        return PERMISSION
    if isinstance(exc, (ValueError, TypeError)):
        return VALIDATION
    if isinstance(exc, (LookupError, FileNotFoundError)):
        return NOT_FOUND
    return INTERNAL


class RetryDecision(NamedTuple):
    retry: bool
    delay: float  # seconds to wait before the next attempt


class RetryPolicy(NamedTuple):
    """What one task type does on each error class; built in Odoo from the task type record.

    Celery's task options, as data: ``backoff_base`` is the retry delay (``default_retry_delay``);
    ``exponential`` is ``retry_backoff`` (each retry may wait twice as long, chosen at random up to
    that ceiling: full jitter, as ``retry_jitter``) or, off, a fixed wait of the retry delay;
    ``backoff_max`` is ``retry_backoff_max``, the longest any retry waits, a ``Retry-After`` included.
    """

    max_retries: int = DEFAULT_MAX_RETRIES  # the task type's cap, whatever the error class allows
    backoff_base: float = DEFAULT_RETRY_DELAY
    backoff_max: float = BACKOFF_MAX
    overrides: dict = {}  # error type -> Policy, replacing the B-009 §6.1 default
    exponential: bool = True

    def for_error(self, error_type):
        return self.overrides.get(error_type) or POLICIES.get(error_type) or POLICIES[INTERNAL]


def retry_decision(error_type, retries_done, policy, retry_after=None, rng=random.random):
    """Whether a job that failed with ``error_type`` after ``retries_done`` retries runs again, and when.

    A ``Retry-After`` the other side gave wins over the rule's own wait (the service knows when it
    will take calls again), capped at the task type's ``backoff_max`` so a bogus or far-off answer
    cannot park a job for days; an error class that is never retried stays so.
    """
    rule = policy.for_error(error_type)
    if rule.strategy == "never" or retries_done >= min(rule.max_retries, policy.max_retries):
        return RetryDecision(False, 0.0)
    asked = honoured_retry_after(retry_after, policy)
    if asked is not None:
        return RetryDecision(True, asked)
    if rule.strategy == "immediate":
        return RetryDecision(True, 0.0)
    if rule.strategy == "delayed":
        return RetryDecision(True, float(rule.delay))
    if not policy.exponential:
        return RetryDecision(True, backoff_ceiling(0, policy))
    # Full jitter: spreads the retries of many jobs that failed together over the whole window.
    return RetryDecision(True, rng() * backoff_ceiling(retries_done, policy))


def backoff_ceiling(retries_done, policy):
    """The longest wait before retry number ``retries_done + 1`` (the exact wait without backoff)."""
    if not policy.exponential:
        return min(policy.backoff_max, policy.backoff_base)
    return min(policy.backoff_max, policy.backoff_base * (2 ** retries_done))


def honoured_retry_after(retry_after, policy):
    """The wait a ``Retry-After`` of ``retry_after`` seconds gets: itself, within [0, backoff_max]."""
    if retry_after is None or isinstance(retry_after, bool):
        return None
    try:
        seconds = float(retry_after)
    except (TypeError, ValueError):
        return None
    if math.isnan(seconds):
        return None
    return max(0.0, min(seconds, policy.backoff_max))


def retry_after_of(exc) -> Optional[float]:
    return getattr(exc, "retry_after", None)
