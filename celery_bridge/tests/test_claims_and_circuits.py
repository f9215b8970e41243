"""Idempotency claims and circuit breakers against a real Redis."""
import os
import subprocess
import sys

import pytest

from celery_bridge.broker import circuit
from celery_bridge.core import idempotency
from celery_bridge.broker.claims import BUSY, DONE, DUPLICATE, RUN, Claims


def test_key_is_stable_and_scoped():
    a = idempotency.make_key("t", [1], {"b": 2, "a": 1}, company_id=1)
    assert a == idempotency.make_key("t", [1], {"a": 1, "b": 2}, company_id=1), "argument order does not matter"
    assert a != idempotency.make_key("t", [2], {"a": 1, "b": 2}, company_id=1)
    assert idempotency.make_key("t", key="order-7", scope="user", user_id=5, company_id=1) == \
        "company-1:t:user-5:order-7"
    assert idempotency.make_key("t", key="order-7", scope="company", company_id=2) == "company-2:t:all:order-7"


def test_keys_never_cross_companies_or_tasks():
    """The same caller key in two companies, or for two task types, gives two keys."""
    assert idempotency.make_key("t", key="PAY-1", company_id=1) != idempotency.make_key("t", key="PAY-1", company_id=2)
    assert idempotency.make_key("t", key="PAY-1", company_id=1) != idempotency.make_key("u", key="PAY-1", company_id=1)
    assert idempotency.make_key("t", key="PAY-1", scope="global", company_id=1) == \
        idempotency.make_key("t", key="PAY-1", scope="company", company_id=1)
    with pytest.raises(ValueError, match="scope"):
        idempotency.make_key("t", scope="planet", company_id=1)
    with pytest.raises(ValueError, match="company"):
        idempotency.make_key("t", key="x")


def test_first_claim_runs_then_duplicates_get_the_first_result(redis_db):
    claims, key = Claims(redis_db), redis_db.test_prefix + "k"
    assert claims.claim(key, "job-1", lease=60).verdict == RUN
    assert claims.claim(key, "job-1", lease=60).verdict == DUPLICATE, "same job, its runner alive"
    assert claims.claim(key, "job-2", lease=60).verdict == BUSY, "another job with the key"
    claims.finish(key, "job-1", '{"paid": true}', ttl=60)
    assert claims.claim(key, "job-2", lease=60) == (DONE, '{"paid": true}')


def test_a_failed_run_releases_the_key_for_the_retry(redis_db):
    claims, key = Claims(redis_db), redis_db.test_prefix + "k"
    claims.claim(key, "job-1", lease=60)
    claims.release(key, "job-1")
    assert claims.claim(key, "job-1", lease=60).verdict == RUN


def test_the_claim_of_a_dead_process_is_taken_over(redis_db):
    key = redis_db.test_prefix + "k"
    code = ("import redis, sys; from celery_bridge.broker.claims import Claims; "
            "Claims(redis.Redis.from_url(sys.argv[1])).claim(sys.argv[2], 'job-1', 60)")
    url = os.environ.get("SDJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    subprocess.run([sys.executable, "-c", code, url, key], check=True)  # claims, then exits
    assert Claims(redis_db).claim(key, "job-1", lease=60).verdict == RUN


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_breaker_opens_after_threshold_and_probes_once_after_recovery(redis_db):
    clock = Clock()
    breaker = circuit.CircuitBreaker(redis_db, redis_db.test_prefix + "bkash", clock=clock)
    breaker.configure(threshold=5, recovery_timeout=60)
    for _ in range(4):
        breaker.record_failure()
    assert breaker.admit().allowed
    assert breaker.record_failure() == circuit.OPEN
    admission = breaker.admit()
    assert not admission.allowed and admission.retry_in == pytest.approx(60)
    clock.now += 61
    assert breaker.admit().allowed, "one probe after the recovery timeout"
    assert breaker.status()["state"] == circuit.HALF_OPEN
    assert not breaker.admit().allowed, "only one probe at a time"
    breaker.record_success()
    assert breaker.status()["state"] == circuit.CLOSED and breaker.admit().allowed


def test_a_failed_probe_opens_the_circuit_again(redis_db):
    clock = Clock()
    breaker = circuit.CircuitBreaker(redis_db, redis_db.test_prefix + "nagad", clock=clock)
    breaker.configure(threshold=1, recovery_timeout=10)
    breaker.record_failure()
    clock.now += 11
    assert breaker.admit().allowed
    assert breaker.record_failure() == circuit.OPEN
    assert not breaker.admit().allowed


def test_success_resets_the_count_of_consecutive_failures(redis_db):
    breaker = circuit.CircuitBreaker(redis_db, redis_db.test_prefix + "sms")
    breaker.configure(threshold=3, recovery_timeout=60)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.status()["state"] == circuit.CLOSED and breaker.status()["failures"] == 1
