"""Faults with real processes: killed workers, Odoo and Redis going away, duplicates, poison.

Every test asserts what Odoo's database says in the end, not only what a log says.
"""
import json
import threading
import xmlrpc.client
from pathlib import Path

import redis as redis_lib
from kombu import Connection, Exchange, Producer

from celery_bridge.core.idempotency import make_key

from .harness import signed_headers, wait_for
from .test_walking_skeleton import read_job, wait_for_state


def job_by_id(client, job_id, fields=("state", "attempt", "retry_count", "attempt_log", "error_type", "result_json",
                                      "dead_letter_ids", "lease_expires_at")):
    return client("smart_dairy.job", "read", [job_id], list(fields))[0]


def reap(admin):
    cron_id = admin("ir.model.data", "check_object_reference", "smart_dairy_jobs", "ir_cron_reap_stuck_jobs")[1]
    admin("ir.cron", "method_direct_trigger", [cron_id])


def reap_until_next_attempt(admin, job_id, timeout=60):
    """Run the stuck-job reaper until it has sent the job again."""
    def resent():
        reap(admin)
        return job_by_id(admin, job_id)["attempt"] >= 2
    wait_for(resent, timeout=timeout, interval=1, what=f"job {job_id} to be taken back and sent again")


def lines(path):
    return Path(path).read_text().splitlines() if Path(path).exists() else []


def test_sigkill_of_the_pool_process_runs_the_task_again_and_succeeds_once(live_worker, admin):
    name, marker = live_worker.diagnostics_file()
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name, "hold": 3})
    wait_for_state(admin, job_id, "started")
    for child in live_worker.pool_children():
        child.kill()
    job = wait_for_state(admin, job_id, {"success", "failure"}, timeout=60)
    assert job["state"] == "success"
    assert job["attempt"] == 1, "redelivered by the broker, same attempt"
    assert len(lines(marker)) == 1, "the killed run never reached its write; the second one did, once"
    uuid = job["uuid"]
    assert live_worker.log.read_text().count(f"[{uuid}] received") == 2


def test_sigkill_of_the_whole_worker_is_healed_by_the_lease(live_worker, admin, task_settings):
    task_settings("smart_dairy.health.touch", lease_seconds=3, max_retries=2)
    name, marker = live_worker.diagnostics_file()
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name, "hold": 4})
    wait_for_state(admin, job_id, "started")
    live_worker.kill_hard()
    live_worker.start()
    reap_until_next_attempt(admin, job_id)
    job = wait_for_state(admin, job_id, {"success", "failure"}, timeout=60)
    assert job["state"] == "success"
    log = json.loads(job_by_id(admin, job_id)["attempt_log"])
    assert log[0]["outcome"] == "retry" and log[0]["error_type"] == "worker_lost"
    assert len(lines(marker)) == 1


def test_reports_wait_in_the_spool_while_odoo_is_down(live_worker, odoo, broker, admin):
    name, marker = live_worker.diagnostics_file()
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name, "hold": 2})
    wait_for_state(admin, job_id, "started")
    odoo.stop_http()
    try:
        spool = redis_lib.Redis.from_url(broker.url + "/0")
        wait_for(lambda: lines(marker) and spool.llen("sdj:reports") > 0, timeout=30,
                 what="the task to finish and its report to wait in the spool")
    finally:
        odoo.start()
    job = wait_for_state(admin, job_id, "success", timeout=60)
    assert json.loads(job["result_json"]) == {"runs": 1}
    assert redis_lib.Redis.from_url(broker.url + "/0").llen("sdj:reports") == 0


def test_jobs_lost_with_a_redis_restart_are_sent_again(live_worker, broker, admin, task_settings):
    task_settings("smart_dairy.health.touch", enqueued_timeout=1)
    live_worker.stop()  # messages stay queued in Redis
    name, marker = live_worker.diagnostics_file()
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name})
    wait_for_state(admin, job_id, "enqueued")
    broker.stop()  # this Redis keeps nothing on disk: the queued message is gone
    broker.start()
    live_worker.start()
    reap_until_next_attempt(admin, job_id)
    wait_for_state(admin, job_id, "success", timeout=60)
    assert json.loads(job_by_id(admin, job_id)["attempt_log"])[0]["outcome"] == "republished"
    assert len(lines(marker)) == 1


def _resend(broker, job_uuid, attempt, kwargs):
    """Publish a job's message again, as a broker redelivery would."""
    from celery_bridge.broker.app_factory import make_app
    from celery_bridge.core.config import load_settings

    app = make_app(load_settings({"CELERY_BROKER_URL": broker.url + "/0"}, section={}), current=False)
    app.send_task("smart_dairy.health.touch", kwargs=kwargs, task_id=job_uuid, queue="celery",
                  headers=signed_headers("smart_dairy.health.touch", job_uuid, kwargs=kwargs,
                                         sdj_attempt=attempt, sdj_lease=60))


def test_the_same_message_delivered_twice_runs_once(live_worker, broker, admin):
    name, marker = live_worker.diagnostics_file()
    # Long enough that Odoo is seen saying "started" before it ends, even when one request is slow.
    kwargs = {"path": name, "hold": 4}
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs=kwargs)
    job = wait_for_state(admin, job_id, "started")
    _resend(broker, job["uuid"], job["attempt"], kwargs)  # while the first copy runs
    wait_for_state(admin, job_id, "success")
    _resend(broker, job["uuid"], job["attempt"], kwargs)  # after it finished
    wait_for(lambda: live_worker.log.read_text().count(f"[{job['uuid']}] received") == 3, timeout=30,
             what="both copies to reach the worker")
    wait_for(lambda: live_worker.log.read_text().count(f"[{job['uuid']}] ") >= 6, timeout=30,
             what="both copies to be handled")
    assert len(lines(marker)) == 1
    assert json.loads(read_job(admin, job_id)["result_json"]) == {"runs": 1}


def test_fifty_concurrent_dispatches_with_one_key_make_one_job(live_worker, odoo, admin):
    # touch is a diagnostic (system administrators only): the admin's account plays the service.
    name, marker = live_worker.diagnostics_file()
    user_key = f"pay-supplier-{marker.stem}"
    results, failures = [], []

    def dispatch():
        try:
            client = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/object", allow_none=True)
            results.append(client.execute_kw(
                odoo.db, admin.uid, admin.secret, "smart_dairy.job", "dispatch", ["smart_dairy.health.touch"],
                {"kwargs": {"path": name}, "idempotency_key": user_key}))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=dispatch) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(results) == 50 and len(set(results)) == 1
    company_id = admin("res.users", "read", [admin.uid], ["company_id"])[0]["company_id"][0]
    key = make_key("smart_dairy.health.touch", company_id=company_id, key=user_key)
    assert admin("smart_dairy.job", "search_count", [("idempotency_key", "=", key)]) == 1
    wait_for_state(admin, results[0], "success")
    assert len(lines(marker)) == 1


def test_an_always_failing_task_reaches_the_dlq_after_exactly_its_retries(live_worker, admin, task_settings):
    task_settings("smart_dairy.health.fail", max_retries=3, retry_backoff_base=0.5, retry_backoff_max=600)
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.fail",
                   kwargs={"error_type": "network_timeout", "message": "gateway timed out", "secret": "s"})
    job = wait_for_state(admin, job_id, "failure", timeout=60)
    job = job_by_id(admin, job_id)
    assert (job["attempt"], job["retry_count"]) == (4, 3)
    log = json.loads(job["attempt_log"])
    assert [entry["outcome"] for entry in log] == ["retry", "retry", "retry", "failure"]
    for retries_done, entry in enumerate(log[:3]):
        assert 0 <= entry["delay"] <= 0.5 * 2 ** retries_done, entry  # full jitter under the ceiling
    [entry] = admin("smart_dairy.job.dead.letter", "read", job["dead_letter_ids"],
                    ["attempts", "error_type", "state", "kwargs_display"])
    assert (entry["attempts"], entry["error_type"], entry["state"]) == (4, "network_timeout", "new")
    assert '"secret": "********"' in entry["kwargs_display"]


def test_requeue_from_the_dlq_succeeds_once_the_cause_is_fixed(live_worker, admin):
    name, missing = live_worker.diagnostics_file("delivery-note")
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.expect_file", kwargs={"path": name})
    wait_for_state(admin, job_id, "failure")
    [entry_id] = job_by_id(admin, job_id)["dead_letter_ids"]
    missing.write_text("cow,litres\n")  # the admin fixes the cause
    admin("smart_dairy.job.dead.letter", "action_requeue", [entry_id])
    entry = admin("smart_dairy.job.dead.letter", "read", [entry_id], ["state", "requeued_job_id"])[0]
    assert entry["state"] == "requeued"
    new_job = wait_for_state(admin, entry["requeued_job_id"][0], {"success", "failure"})
    assert new_job["state"] == "success"


def test_an_open_circuit_defers_jobs_and_a_probe_closes_it(live_worker, admin, task_settings, tmp_path):
    service = f"sandbox-{tmp_path.name}"
    admin("smart_dairy.job.circuit", "create", {"service": service, "threshold": 2, "recovery_timeout": 3})
    task_settings("smart_dairy.health.fail", external_service=service, max_retries=0)
    task_settings("smart_dairy.health.expect_file", external_service=service)
    for _ in range(2):
        failing = admin("smart_dairy.job", "dispatch", "smart_dairy.health.fail",
                        kwargs={"error_type": "network_timeout"})
        wait_for_state(admin, failing, "failure")
    admin("smart_dairy.job.circuit", "action_refresh", [])
    [circuit] = admin("smart_dairy.job.circuit", "search_read", [("service", "=", service)], ["state", "failures"])
    assert circuit["state"] == "open"

    name, present = live_worker.diagnostics_file("ok")
    present.write_text("ok")
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.expect_file", kwargs={"path": name})
    wait_for(lambda: "deferred" in (job_by_id(admin, job_id)["attempt_log"] or ""), timeout=30,
             what="the job to be deferred by the open circuit")
    job = wait_for_state(admin, job_id, {"success", "failure"}, timeout=60)
    assert job["state"] == "success"
    assert job_by_id(admin, job_id)["retry_count"] == 0, "a deferral is not a failed attempt"
    admin("smart_dairy.job.circuit", "action_refresh", [])
    [circuit] = admin("smart_dairy.job.circuit", "search_read", [("service", "=", service)], ["state"])
    assert circuit["state"] == "closed"


def test_terminate_stops_a_running_job(live_worker, admin):
    name, marker = live_worker.diagnostics_file()
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name, "hold": 20})
    job = wait_for_state(admin, job_id, "started")
    admin("smart_dairy.job", "action_terminate", [job_id])
    assert read_job(admin, job_id)["state"] == "cancelled"
    wait_for(lambda: f"Terminating {job['uuid']}" in live_worker.log.read_text(), timeout=30,
             what="the worker to terminate the task")
    assert lines(marker) == [], "the task never got to its write"
    assert read_job(admin, job_id)["state"] == "cancelled"


def test_poison_messages_go_to_the_dlq_once_or_are_dropped_without_a_loop(live_worker, broker, admin):
    task_id = admin("smart_dairy.job.task", "search",
                    [("name", "=", "smart_dairy.image.process_image"), ("active", "=", False)])[0]
    admin("smart_dairy.job.task", "write", [task_id], {"active": True})
    try:
        job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.image.process_image")
        wait_for_state(admin, job_id, "failure")
    finally:
        admin("smart_dairy.job.task", "write", [task_id], {"active": False})
    assert len(job_by_id(admin, job_id)["dead_letter_ids"]) == 1
    # A body no worker can decode: dropped with a log line, and the worker goes on.
    with Connection(broker.url + "/0") as connection:
        Producer(connection).publish(b"\x00not json", exchange=Exchange("celery"), routing_key="celery",
                                     content_type="application/json", content_encoding="utf-8",
                                     headers={"task": "smart_dairy.health.ping", "id": "poison-1"})
    ping = admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
    assert wait_for_state(admin, ping, "success")["state"] == "success"
    assert live_worker.alive()
    assert len(job_by_id(admin, job_id)["dead_letter_ids"]) == 1
