""""100 mails a minute" is the whole dairy's (issue 19): three real Celery workers consume celery:email
against the session's Odoo and broker, and the SMTP sink notes when each mail arrives.

send_email keeps its shipped limit, 100/m, which the workers' heartbeats copy from Odoo into Redis. 130
mails are dispatched at once: 100 go out, from all three workers, and the other 30 wait in Odoo, deferred
by the global limit — not failed, their retries untouched. Celery's own limit, per worker, would let each
of the three send 100 a minute (all 130 within half a minute); it is left as each worker's safety cap.

The session's worker serves every queue: it is stopped for this module and started again after.
"""
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from celery_bridge.broker.rate_limits import GlobalRateLimits

from .harness import Worker, metric_sample, wait_for

SEND_EMAIL = "smart_dairy.email.send_email"
LIMIT = 100  # send_email's shipped rate limit, 100/m
DISPATCHED = 130


@pytest.fixture(scope="module")
def email_fleet(workdir, odoo, broker, bridge_key, worker, outside):
    worker.stop()
    fleet = [Worker(workdir, odoo, broker.url, bridge_key, name=f"mail{number}", concurrency=1, queues="celery:email")
             for number in range(3)]
    for member in fleet:
        member.env.update(outside.env)
    try:
        with ThreadPoolExecutor(len(fleet)) as pool:
            list(pool.map(Worker.start, fleet))
        yield fleet
    finally:
        with ThreadPoolExecutor(len(fleet)) as pool:
            list(pool.map(Worker.stop, fleet))
        worker.start()


@pytest.fixture
def global_limits(broker):
    limits = GlobalRateLimits(redis.Redis.from_url(broker.url + "/0"))
    limits.reset(SEND_EMAIL)  # mails earlier tests sent in the last minute
    yield limits
    limits.reset(SEND_EMAIL)  # the tests after this one mail within the same minute


def received(smtp, tag):
    """The arrival times (time.monotonic()) of the mails to this test's recipients."""
    pairs = list(zip(list(smtp.messages), list(smtp.received_at)))
    return [at for message, at in pairs if tag in message["To"]]


def test_three_email_workers_together_send_no_more_than_the_global_limit(admin, email_fleet, outside, global_limits):
    wait_for(lambda: global_limits.limits().get(SEND_EMAIL) == "100/m", timeout=15,
             what="the workers' heartbeats to bring send_email's limit from Odoo")
    tag = uuid.uuid4().hex[:8]
    job_ids = admin("smart_dairy.job", "dispatch_many", [
        {"task_name": SEND_EMAIL, "kwargs": {"to": f"r{number}-{tag}@farm.example", "subject": "Collection times",
                                             "body_html": "<p>From Monday, 6:00.</p>"}}
        for number in range(DISPATCHED)])
    assert len(job_ids) == DISPATCHED

    def jobs():
        return admin("smart_dairy.job", "read", job_ids, ["state", "retry_count", "attempt_log", "worker_hostname"])

    def held_by_the_limit(job):
        return job["state"] == "retry" and "global rate limit 100/m" in job["attempt_log"]

    # Until every job has either sent its mail or been held back by the limit, no more than the limit
    # may arrive. Each look is a check of its own: a 101st mail fails the test at once.
    deadline = time.monotonic() + 60
    while True:
        sent = received(outside.smtp, tag)
        assert len(sent) <= LIMIT, f"{len(sent)} mails within {sent[-1] - sent[0]:.1f} s"
        current = jobs()
        held = [job for job in current if held_by_the_limit(job)]
        if len(sent) == LIMIT and len(held) == DISPATCHED - LIMIT:
            break
        assert time.monotonic() < deadline, (
            f"{len(sent)} sent, {len(held)} held: {sorted({job['state'] for job in current})}")
        time.sleep(0.5)

    sent = received(outside.smtp, tag)
    assert len(sent) == LIMIT and sent[-1] - sent[0] < 60  # so no 60 s window holds more than 100
    succeeded = [job for job in current if job["state"] == "success"]
    assert len(succeeded) == LIMIT
    assert {job["worker_hostname"].split("@")[0] for job in succeeded} == {"mail0", "mail1", "mail2"}
    # Held, not failed: no job failed, none spent a retry, and the workers count what they held back.
    assert not [job for job in current if job["state"] not in ("success", "retry")]
    assert all(job["retry_count"] == 0 for job in current)
    rate_limited = sum(metric_sample(member.metrics_url, "celery_task_rate_limited_total", task_name=SEND_EMAIL)
                       for member in email_fleet)
    assert rate_limited >= DISPATCHED - LIMIT
    # The held jobs would go out as their slots free, from a minute after the first mail: not waited for here.
    admin("smart_dairy.job", "cancel", [job["id"] for job in current if job["state"] == "retry"])
