"""The broker away for long, or holding garbage: workers stay up by themselves, Odoo does not wait.

Real processes: the session's private Redis is stopped and started again, Odoo serves XML-RPC, real
Celery workers consume. Each test asserts what Odoo's database and the worker's process say.
"""
import base64
import json
import time
import uuid

import redis as redis_lib

from celery_bridge.worker import healthcheck

from .harness import Worker, metric_sample, wait_for
from .test_walking_skeleton import read_job, wait_for_state

# What the workers had before: Celery gave up (and the worker exited) after this many attempts.
OLD_RETRY_BUDGET = 10


def metric(worker, name, **labels):
    """A sample of the worker's Prometheus endpoint (0.0 if absent)."""
    return metric_sample(worker.metrics_url, name, **labels)


def sweep(admin):
    cron_id = admin("ir.model.data", "check_object_reference", "smart_dairy_jobs", "ir_cron_sweep_pending_jobs")[1]
    admin("ir.cron", "method_direct_trigger", [cron_id])


def highest_retry(log_text):
    """The highest attempt number of Celery's "Trying again in … (n/None)" lines."""
    import re

    return max((int(n) for n in re.findall(r"Trying again .*?\((\d+)/None\)", log_text)), default=0)


def publish_timeout(odoo):
    from celery_bridge.core.config import read_section

    return float(read_section(str(odoo.conf)).get("publish_timeout", 3.0))


def test_a_broker_outage_past_the_old_retry_budget_is_survived_by_the_same_worker(workdir, odoo, broker, worker,
                                                                                  bridge_key, admin):
    # The session's worker stands aside: the job afterwards must be this worker's to run.
    worker.stop()
    patient = Worker(workdir, odoo, broker.url, bridge_key, name="outage")
    # Attempts 1 s apart at most, so that outliving the old budget of attempts takes seconds.
    patient.env["BROKER_RETRY_MAX_INTERVAL"] = "1"
    patient.start()
    try:
        pid = patient.process.pid
        wait_for(lambda: metric(patient, "celery_broker_connected") == 1, timeout=30, what="the worker's metrics")
        assert healthcheck.check(patient.metrics_url)[0] == healthcheck.HEALTHY
        broker.stop()
        try:
            wait_for(lambda: highest_retry(patient.log.read_text()) > OLD_RETRY_BUDGET, timeout=90, interval=0.5,
                     what=f"the worker to try more than {OLD_RETRY_BUDGET} times to reach the broker")
            assert patient.alive() and patient.process.pid == pid
            status, explanation = healthcheck.check(patient.metrics_url)
            assert status == healthcheck.DEGRADED, explanation
            assert metric(patient, "celery_broker_connected") == 0
            assert metric(patient, "celery_broker_outage_seconds") > 0
            assert "Broker connection lost" in patient.log.read_text()
        finally:
            broker.start()
        wait_for(lambda: metric(patient, "celery_broker_connected") == 1, timeout=30,
                 what="the worker to reconnect by itself")
        assert metric(patient, "celery_broker_reconnects") >= 1
        assert healthcheck.check(patient.metrics_url)[0] == healthcheck.HEALTHY
        job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
        job = wait_for_state(admin, job_id, "success", timeout=60)
        assert json.loads(job["result_json"])["worker"].startswith("outage@")
        assert patient.alive() and patient.process.pid == pid, "the same worker process, never restarted"
        assert "Broker connection re-established" in patient.log.read_text()
    finally:
        patient.stop()
        worker.start()


def test_a_broker_lost_while_messages_are_unacked_does_not_end_the_worker(live_worker, broker, admin):
    """kombu restores a channel's unacked messages when the broker goes away; with a job running (its
    message unacked) that restore used to raise AttributeError and end the worker ("Unrecoverable error")."""
    pid = live_worker.process.pid
    running = admin("smart_dairy.job", "dispatch", "smart_dairy.health.sleep", kwargs={"seconds": 3})
    wait_for_state(admin, running, "started")
    lost_before = live_worker.log.read_text().count("Broker connection lost")
    broker.stop()
    try:
        wait_for(lambda: live_worker.log.read_text().count("Broker connection lost") > lost_before, timeout=30,
                 what="the worker to notice the broker is gone")
    finally:
        broker.start()
    wait_for(lambda: metric(live_worker, "celery_broker_connected") == 1, timeout=60,
             what="the worker to reconnect by itself")
    assert live_worker.alive() and live_worker.process.pid == pid, live_worker.log.read_text()[-3000:]
    assert "Unrecoverable error" not in live_worker.log.read_text()
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
    wait_for_state(admin, job_id, "success", timeout=60)


def test_a_dispatch_with_the_broker_away_waits_at_most_the_publish_timeout(broker, worker, admin, gateway):
    timeout = publish_timeout(gateway.server)
    broker.stop()
    try:
        started = time.monotonic()
        job_id = gateway("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
        waited = time.monotonic() - started
        # The README's bound: one PUBLISH_TIMEOUT for the whole publish of a request (a margin for
        # the XML-RPC round trip on a loaded machine), never one per connection attempt.
        assert waited < timeout + 2.0, f"the dispatch waited {waited:.1f} s for an absent broker"
        assert read_job(gateway, job_id)["state"] == "pending"
    finally:
        broker.start()
    sweep(admin)
    job = wait_for_state(gateway, job_id, "success", timeout=90)
    assert job["attempt"] == 1


def envelope(headers, body):
    """A queue item shaped as kombu's Redis transport stores a message."""
    return json.dumps({
        "body": base64.b64encode(json.dumps(body).encode()).decode(), "content-encoding": "utf-8",
        "content-type": "application/json", "headers": headers,
        "properties": {"body_encoding": "base64", "delivery_tag": str(uuid.uuid4()), "priority": 0,
                       "delivery_info": {"exchange": "", "routing_key": "celery"}},
    })


def test_a_garbage_item_on_a_queue_is_moved_aside_and_the_worker_goes_on(live_worker, broker, admin):
    pid = live_worker.process.pid
    secret = f"poison-{uuid.uuid4().hex}"  # stands for whatever the item holds: it must not reach the log
    task_body = [[], {"secret": secret}, {}]
    garbage = [
        secret,  # not JSON: kombu's own channel ended the worker on it
        json.dumps({"body": secret}),  # JSON, but no message envelope
        # Envelopes Celery chokes on: without a task id its consumer restarted for ever on it; a time
        # limit that is not two numbers wedged a pool slot.
        envelope({"task": "smart_dairy.health.ping"}, task_body),
        envelope({"task": "smart_dairy.health.ping", "id": str(uuid.uuid4()), "timelimit": secret}, task_body),
    ]
    redis = redis_lib.Redis.from_url(broker.url + "/0")
    redis.delete("celery:poison")
    counted = metric(live_worker, "celery_poison_messages", queue_name="celery")
    for item in garbage:
        redis.lpush("celery", item)
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
    assert wait_for_state(admin, job_id, "success")["state"] == "success"
    wait_for(lambda: redis.llen("celery:poison") == len(garbage), timeout=30, what="every item to be moved aside")
    assert live_worker.alive() and live_worker.process.pid == pid
    # Kept as they came (kombu's envelopes as kombu stores them), for an operator to look at.
    aside = redis.lrange("celery:poison", 0, -1)
    assert set(aside[-2:]) == {secret.encode(), json.dumps({"body": secret}).encode()}
    assert all(secret in item.decode() or secret in base64.b64decode(json.loads(item)["body"]).decode()
               for item in aside)
    assert metric(live_worker, "celery_poison_messages", queue_name="celery") - counted == len(garbage)
    log = live_worker.log.read_text()
    assert "held an item that is not a message" in log
    assert secret not in log
    # The next job still runs on the same process.
    second = admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
    assert wait_for_state(admin, second, "success")["state"] == "success"
    assert live_worker.process.pid == pid
