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
    for error_type in (errors.VALIDATION, errors.PERMISSION, errors.NOT_FOUND,
                       errors.TIME_LIMIT, errors.UNKNOWN_TASK):
        assert not errors.retry_decision(error_type, 0, POLICY).retry
        assert not errors.retry_decision(error_type, 0, POLICY, retry_after=5).retry, "Retry-After or not"


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
    unavailable = pickle.loads(pickle.dumps(errors.NetworkTimeout("HTTP 503", retry_after=30.0)))
    assert (type(unavailable), str(unavailable), unavailable.retry_after) == (errors.NetworkTimeout, "HTTP 503", 30.0)
    refused = pickle.loads(pickle.dumps(errors.UnexpectedReply("no message_id")))
    assert (type(refused), str(refused), refused.retry_after) == (errors.UnexpectedReply, "no message_id", None)
    deferred = pickle.loads(pickle.dumps(Deferred("circuit open", 3.5)))
    assert (str(deferred), deferred.retry_in) == ("circuit open", 3.5)


# ---------------------------------------------------------------- the seeded policies (B-009 §2.2, §3.1, §3.2)
# As the addons' data files seed them (their Odoo tests check the task types hold these numbers).
DEFAULT = errors.RetryPolicy()  # §2.2: 3 retries, 60 s delay, backoff, 600 s cap
IOT = errors.RetryPolicy(max_retries=5, backoff_base=10.0)  # §3.2 process_sensor_data: 2^n × 10 s
SMTP = errors.RetryPolicy(max_retries=3, backoff_base=60.0, exponential=False)  # §3.2 send_email: countdown=60
REPORT = errors.RetryPolicy(max_retries=2)
PAYMENT = errors.RetryPolicy(max_retries=10, backoff_base=30.0, backoff_max=600.0,  # §3.2 process_payment
                             overrides={errors.NETWORK_TIMEOUT: errors.Policy("backoff", 10)})


def schedule(error_type, policy, rng=lambda: 1.0, retry_after=None):
    """The waits before each retry of a job that keeps failing with ``error_type``, until it is given up."""
    delays = []
    while (decision := errors.retry_decision(error_type, len(delays), policy, retry_after, rng)).retry:
        delays.append(decision.delay)
    return delays


def test_the_default_policy_is_the_specs_60_s_doubling_up_to_600_s_three_times():
    assert schedule(errors.NETWORK_TIMEOUT, DEFAULT) == [60.0, 120.0, 240.0]
    long = DEFAULT._replace(max_retries=10, overrides={errors.NETWORK_TIMEOUT: errors.Policy("backoff", 10)})
    assert schedule(errors.NETWORK_TIMEOUT, long) == [60.0, 120.0, 240.0, 480.0] + [600.0] * 6


def test_full_jitter_draws_each_wait_between_zero_and_the_ceiling():
    assert schedule(errors.NETWORK_TIMEOUT, DEFAULT, rng=lambda: 0.0) == [0.0, 0.0, 0.0]
    assert schedule(errors.NETWORK_TIMEOUT, DEFAULT, rng=lambda: 0.5) == [30.0, 60.0, 120.0]


def test_unknown_errors_are_retried_three_times_under_the_default_policy():
    assert errors.classify(RuntimeError("boom")) == errors.INTERNAL
    assert schedule(errors.INTERNAL, DEFAULT) == [60.0, 120.0, 240.0]
    assert schedule(errors.INTERNAL, PAYMENT) == [30.0, 60.0, 120.0], "at most 3, whatever the task allows"
    assert schedule(errors.INTERNAL, REPORT) == [60.0, 120.0], "and never more than the task allows"


def test_iot_waits_up_to_2_to_the_n_times_10_s_five_times():
    assert schedule(errors.NETWORK_TIMEOUT, IOT) == [10.0, 20.0, 40.0, 80.0, 160.0]
    assert schedule(errors.INTERNAL, IOT) == [10.0, 20.0, 40.0]


def test_smtp_retries_after_a_fixed_60_s_three_times():
    assert schedule(errors.NETWORK_TIMEOUT, SMTP) == [60.0, 60.0, 60.0]
    assert schedule(errors.NETWORK_TIMEOUT, SMTP, rng=lambda: 0.0) == [60.0, 60.0, 60.0], "no jitter"
    assert errors.backoff_ceiling(2, SMTP) == 60.0


def test_reports_retry_twice():
    assert schedule(errors.NETWORK_TIMEOUT, REPORT) == [60.0, 120.0]


def test_payments_back_off_from_30_s_to_600_s_ten_times_when_the_gateway_does_not_answer():
    assert schedule(errors.NETWORK_TIMEOUT, PAYMENT) == [30.0, 60.0, 120.0, 240.0, 480.0] + [600.0] * 5
    assert len(schedule(errors.NETWORK_TIMEOUT, PAYMENT._replace(overrides={}))) == 5, "§6.1 alone would stop at 5"
    assert len(schedule(errors.RATE_LIMITED, PAYMENT)) == 10


def test_retry_after_wins_over_the_rules_own_wait():
    assert schedule(errors.NETWORK_TIMEOUT, DEFAULT, retry_after=45) == [45.0, 45.0, 45.0]
    assert schedule(errors.NETWORK_TIMEOUT, SMTP, retry_after=5) == [5.0, 5.0, 5.0]
    assert errors.retry_decision(errors.RATE_LIMITED, 0, DEFAULT, retry_after=0) == (True, 0.0)
    assert errors.retry_decision(errors.DATABASE_LOCK, 0, DEFAULT, retry_after=3) == (True, 3.0)


def test_retry_after_is_capped_at_the_task_types_backoff_cap():
    assert errors.retry_decision(errors.RATE_LIMITED, 0, DEFAULT, retry_after=86400) == (True, 600.0)
    assert errors.retry_decision(errors.RATE_LIMITED, 0, IOT._replace(backoff_max=120), retry_after=3600) == (
        True, 120.0)
    assert errors.retry_decision(errors.RATE_LIMITED, 0, DEFAULT, retry_after=float("inf")) == (True, 600.0)
    assert errors.retry_decision(errors.RATE_LIMITED, 0, DEFAULT, retry_after=-5) == (True, 0.0)
    assert errors.retry_decision(errors.RATE_LIMITED, 0, DEFAULT, retry_after=float("nan")) == (True, 60.0)


def test_retry_after_does_not_add_retries():
    assert len(schedule(errors.NETWORK_TIMEOUT, SMTP, retry_after=1)) == 3
    assert not errors.retry_decision(errors.RATE_LIMITED, 10, PAYMENT, retry_after=1).retry
