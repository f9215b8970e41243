import socket

import pytest

from celery_bridge import errors


class _PgLockError(Exception):
    pgcode = "55P03"


@pytest.mark.parametrize("exc, expected", [
    (errors.NetworkTimeout("x"), errors.NETWORK_TIMEOUT),
    (socket.timeout("x"), errors.NETWORK_TIMEOUT),
    (ConnectionRefusedError("x"), errors.NETWORK_TIMEOUT),
    (_PgLockError("locked"), errors.DATABASE_LOCK),
    (errors.RateLimited("slow down", retry_after=7), errors.RATE_LIMITED),
    (errors.InvalidInput("bad"), errors.VALIDATION),
    (ValueError("bad"), errors.VALIDATION),
    (PermissionError("no"), errors.PERMISSION),
    (KeyError("k"), errors.NOT_FOUND),
    (RuntimeError("boom"), errors.INTERNAL),
])
def test_classify(exc, expected):
    assert errors.classify(exc) == expected


def test_never_retried_errors():
    for error_type in (errors.VALIDATION, errors.PERMISSION, errors.NOT_FOUND, errors.INTERNAL):
        assert not errors.retry_decision(error_type, attempt=1, max_retries=10).retry


def test_network_timeout_backs_off_with_full_jitter_up_to_five_retries():
    top = errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=4, max_retries=10, rng=lambda: 1.0)
    assert top == errors.RetryDecision(True, 8.0)
    bottom = errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=4, max_retries=10, rng=lambda: 0.0)
    assert bottom == errors.RetryDecision(True, 0.0)
    assert errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=5, max_retries=10).retry
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=6, max_retries=10).retry


def test_backoff_is_capped():
    decision = errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=5, max_retries=50, rng=lambda: 1.0)
    assert decision.delay == 16.0
    errors.POLICIES["__test"] = errors.Policy("backoff", 100)
    try:
        capped = errors.retry_decision("__test", attempt=40, max_retries=100, rng=lambda: 1.0)
        assert capped.delay == errors.BACKOFF_MAX
    finally:
        del errors.POLICIES["__test"]


def test_database_lock_retries_at_once_three_times():
    assert errors.retry_decision(errors.DATABASE_LOCK, 3, 10) == errors.RetryDecision(True, 0.0)
    assert not errors.retry_decision(errors.DATABASE_LOCK, 4, 10).retry


def test_rate_limited_honours_retry_after():
    assert errors.retry_decision(errors.RATE_LIMITED, 1, 10, retry_after=7) == errors.RetryDecision(True, 7.0)


def test_task_limit_caps_error_limit():
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=3, max_retries=2).retry
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, attempt=1, max_retries=0).retry
