import socket

import pytest

from celery_bridge.core import errors


class _PgLockError(Exception):
    pgcode = "55P03"


POLICY = errors.RetryPolicy(max_retries=10)


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
    for error_type in (errors.VALIDATION, errors.PERMISSION, errors.NOT_FOUND, errors.INTERNAL,
                       errors.TIME_LIMIT, errors.UNKNOWN_TASK):
        assert not errors.retry_decision(error_type, 0, POLICY).retry


def test_network_timeout_backs_off_with_full_jitter_up_to_five_retries():
    policy = errors.RetryPolicy(max_retries=10, backoff_base=1.0)
    assert errors.retry_decision(errors.NETWORK_TIMEOUT, 3, policy, rng=lambda: 1.0) == (True, 8.0)
    assert errors.retry_decision(errors.NETWORK_TIMEOUT, 3, policy, rng=lambda: 0.0) == (True, 0.0)
    assert errors.retry_decision(errors.NETWORK_TIMEOUT, 4, policy).retry
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, 5, policy).retry


def test_backoff_is_capped():
    policy = errors.RetryPolicy(max_retries=100, backoff_base=1.0, backoff_max=600.0,
                                overrides={errors.NETWORK_TIMEOUT: errors.Policy("backoff", 100)})
    assert errors.retry_decision(errors.NETWORK_TIMEOUT, 40, policy, rng=lambda: 1.0).delay == 600.0
    assert errors.backoff_ceiling(40, policy) == 600.0
    assert errors.backoff_ceiling(2, policy) == 4.0


def test_database_lock_retries_at_once_three_times():
    assert errors.retry_decision(errors.DATABASE_LOCK, 2, POLICY) == (True, 0.0)
    assert not errors.retry_decision(errors.DATABASE_LOCK, 3, POLICY).retry


def test_rate_limited_honours_retry_after_up_to_ten():
    assert errors.retry_decision(errors.RATE_LIMITED, 0, POLICY, retry_after=7) == (True, 7.0)
    assert errors.retry_decision(errors.RATE_LIMITED, 0, POLICY) == (True, 60.0)
    assert errors.retry_decision(errors.RATE_LIMITED, 9, POLICY).retry
    assert not errors.retry_decision(errors.RATE_LIMITED, 10, POLICY).retry


def test_task_limit_caps_error_limit():
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, 2, errors.RetryPolicy(max_retries=2)).retry
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, 0, errors.RetryPolicy(max_retries=0)).retry


def test_task_type_overrides_replace_the_default_rule():
    policy = errors.RetryPolicy(max_retries=10, overrides={
        errors.VALIDATION: errors.Policy("immediate", 1),
        errors.NETWORK_TIMEOUT: errors.Policy("never", 0),
    })
    assert errors.retry_decision(errors.VALIDATION, 0, policy) == (True, 0.0)
    assert not errors.retry_decision(errors.VALIDATION, 1, policy).retry
    assert not errors.retry_decision(errors.NETWORK_TIMEOUT, 0, policy).retry


def test_worker_lost_is_retried_at_once():
    assert errors.retry_decision(errors.WORKER_LOST, 0, POLICY) == (True, 0.0)


def test_typed_errors_survive_pickling_with_their_details():
    import pickle

    from celery_bridge.worker.context import Deferred

    limited = pickle.loads(pickle.dumps(errors.RateLimited("slow down", retry_after=7)))
    assert (str(limited), limited.retry_after) == ("slow down", 7)
    deferred = pickle.loads(pickle.dumps(Deferred("circuit open", 3.5)))
    assert (str(deferred), deferred.retry_in) == ("circuit open", 3.5)
