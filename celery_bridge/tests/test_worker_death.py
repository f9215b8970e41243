"""What a dead worker leaves behind: reports in the spool, a claim, prefetched messages; and the rule
for a report that comes after the reaper gave up on its attempt."""
import json
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from celery_bridge.core import jobstate
from celery_bridge.worker.control import held_jobs
from celery_bridge.broker.claims import Claims
from celery_bridge.core.idempotency import done_claim_floor
from celery_bridge.worker.odoo_client import OdooClient, Reporter
from celery_bridge.broker.producer import ATTEMPT_HEADER

from celery_bridge.tests.test_odoo_client import fake_odoo, report, settings_for  # noqa: F401 - fixture

S, F, R, E, ST = jobstate.SUCCESS, jobstate.FAILURE, jobstate.RETRY, jobstate.ENQUEUED, jobstate.STARTED


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_started_reporter_sends_a_spool_it_never_added_to(fake_odoo, redis_db):  # noqa: F811
    key = redis_db.test_prefix + "spool"
    for n in range(3):  # what a SIGKILLed worker left behind
        redis_db.rpush(key, json.dumps(report(n)))
    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(fake_odoo.port)), key=key)
    reporter.start()  # a worker's main process at start: it never submits anything itself

    def sent():
        return [r["uuid"] for batch in fake_odoo.batches for r in batch]

    assert wait_until(lambda: sent() == ["job-0", "job-1", "job-2"]), sent()
    redis_db.rpush(key, json.dumps(report(3)))  # another process dies later: nobody wakes the drain
    assert wait_until(lambda: sent()[-1:] == ["job-3"]), sent()
    # Trimmed only once Odoo has answered, a moment after it received the batch.
    assert wait_until(lambda: redis_db.llen(key) == 0), redis_db.llen(key)


@pytest.mark.parametrize("state, attempt, reported, reaped, within, verdict", [
    # reaped into the dead letters, then the success of that attempt
    (F, 1, 1, 1, True, (True, jobstate.APPLIED)),
    # reaped into a retry, not yet sent / sent again / the later attempt started
    (R, 1, 1, 1, True, (True, jobstate.APPLIED)),
    (E, 2, 1, 1, True, (True, jobstate.APPLIED)),
    (ST, 2, 1, 1, True, (True, jobstate.APPLIED)),
    # the run ended after its lease: the reaper was right to give up on it
    (F, 1, 1, 1, False, (False, jobstate.LEASE_EXPIRED)),
    # an attempt older than the reaped one, or nothing reaped at all
    (E, 3, 1, 2, True, (False, jobstate.STALE_ATTEMPT)),
    (F, 1, 1, 0, True, (False, jobstate.STALE_ATTEMPT)),
    # the job ended meanwhile in another way
    (S, 2, 1, 1, True, (False, jobstate.OUT_OF_ORDER)),
    (jobstate.CANCELLED, 1, 1, 1, True, (False, jobstate.OUT_OF_ORDER)),
    (F, 2, 1, 1, True, (False, jobstate.OUT_OF_ORDER)),  # the later attempt failed for good on its own
])
def test_late_success_rule(state, attempt, reported, reaped, within, verdict):
    assert tuple(jobstate.judge_late_success(state, attempt, reported, reaped, within)) == verdict


def test_a_late_heartbeat_renews_the_reaped_lease_only_from_within_it():
    end = datetime(2026, 11, 30, 12, 0, 0)
    assert jobstate.late_heartbeat_renews(2, 2, end - timedelta(seconds=1), end)
    assert jobstate.late_heartbeat_renews(2, 2, end, end)
    assert not jobstate.late_heartbeat_renews(2, 2, end + timedelta(seconds=1), end)
    assert not jobstate.late_heartbeat_renews(1, 2, end, end)
    assert not jobstate.late_heartbeat_renews(2, 0, end, end)
    assert not jobstate.late_heartbeat_renews(2, 2, None, end)


def test_a_done_claim_outlives_the_brokers_redelivery_whatever_the_keys_ttl(redis_db):
    floor = done_claim_floor(3900)
    assert floor >= 3900, "an unacknowledged message comes back after the visibility timeout"
    saved = Claims.done_ttl_floor
    Claims.keep_done_claims_for(floor)
    try:
        claims = Claims(redis_db)
        key = redis_db.test_prefix + "key"
        assert claims.claim(key, "job-1", lease=60).verdict == "run"
        claims.finish(key, "job-1", json.dumps({"runs": 1}), ttl=60)  # the task type's idempotency TTL
        assert redis_db.ttl("sdj:claim:" + key) > 60 * 10
        again = claims.claim(key, "job-1", lease=60)  # the old message of attempt 1, or attempt 2
        assert (again.verdict, json.loads(again.result)) == ("done", {"runs": 1})
    finally:
        Claims.keep_done_claims_for(saved)


def test_a_heartbeat_names_the_odoo_jobs_a_worker_holds():
    requests = [
        SimpleNamespace(id="b", request_dict={ATTEMPT_HEADER: 2}),
        SimpleNamespace(id="a", request_dict={ATTEMPT_HEADER: "1"}),
        SimpleNamespace(id="plain-celery", request_dict={}),  # not an Odoo job: Odoo has nothing to resend
        SimpleNamespace(id="b", request_dict={ATTEMPT_HEADER: 2}),  # reserved and active at once
    ]
    assert held_jobs(requests) == [["a", 1], ["b", 2]]
