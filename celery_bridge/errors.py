"""Typed errors task authors raise, and how each kind of error is retried (spec B-009 §6.1).

Task code raises ``NetworkTimeout``, ``RateLimited``… instead of writing retry code; the task base
class classifies whatever escaped and asks ``retry_decision`` what to do.
"""
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
    (INTERNAL, "Internal error"),
]


class JobError(Exception):
    error_type = INTERNAL


class NetworkTimeout(JobError):
    error_type = NETWORK_TIMEOUT


class DatabaseLock(JobError):
    error_type = DATABASE_LOCK


class RateLimited(JobError):
    error_type = RATE_LIMITED

    def __init__(self, message="rate limited", retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class InvalidInput(JobError):
    error_type = VALIDATION


class PermissionDenied(JobError):
    error_type = PERMISSION


class NotFound(JobError):
    error_type = NOT_FOUND


class Policy(NamedTuple):
    strategy: str  # "backoff", "immediate", "delayed" or "never"
    max_retries: int


POLICIES = {
    NETWORK_TIMEOUT: Policy("backoff", 5),
    DATABASE_LOCK: Policy("immediate", 3),
    RATE_LIMITED: Policy("delayed", 10),
    VALIDATION: Policy("never", 0),
    PERMISSION: Policy("never", 0),
    NOT_FOUND: Policy("never", 0),
    TIME_LIMIT: Policy("never", 0),
    UNKNOWN_TASK: Policy("never", 0),
    INTERNAL: Policy("never", 0),
}
BACKOFF_BASE = 1.0
BACKOFF_MAX = 600.0  # B-009 §2.2 task_retry_backoff_max
RATE_LIMIT_DEFAULT_DELAY = 60.0
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


def retry_decision(error_type, attempt, max_retries, retry_after=None, rng=random.random):
    """Whether the ``attempt``-th run (1-based) of a job that failed with ``error_type`` is retried.

    ``max_retries`` is the job's own limit (from its task type); the error type's limit applies
    too, so a validation error is never retried whatever the task allows.
    """
    policy = POLICIES.get(error_type, POLICIES[INTERNAL])
    retries_done = attempt - 1
    if retries_done >= min(policy.max_retries, max_retries):
        return RetryDecision(False, 0.0)
    if policy.strategy == "immediate":
        return RetryDecision(True, 0.0)
    if policy.strategy == "delayed":
        return RetryDecision(True, float(retry_after if retry_after is not None else RATE_LIMIT_DEFAULT_DELAY))
    if policy.strategy == "backoff":
        # Full jitter: spreads retries of many jobs that failed together over the whole window.
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** retries_done))
        return RetryDecision(True, rng() * ceiling)
    return RetryDecision(False, 0.0)


def retry_after_of(exc) -> Optional[float]:
    return getattr(exc, "retry_after", None)
