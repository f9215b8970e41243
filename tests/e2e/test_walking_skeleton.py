"""A job dispatched in Odoo runs on a real Celery worker and its result lands back in Odoo."""
import json
import re
import xmlrpc.client
from pathlib import Path

import pytest

from .harness import wait_for

JOB_FIELDS = ["state", "attempt", "result_json", "error_type", "error_message", "date_enqueued", "date_started",
              "date_done", "duration", "origin", "uuid", "worker_hostname"]


def read_job(client, job_id):
    return client("smart_dairy.job", "read", [job_id], JOB_FIELDS)[0]


def wait_for_state(client, job_id, states, timeout=30):
    states = {states} if isinstance(states, str) else set(states)
    return wait_for(lambda: (job := read_job(client, job_id))["state"] in states and job,
                    timeout=timeout, what=f"job {job_id} to reach {states}")


def test_install_logs_no_warning_or_error_from_our_addons(odoo):
    problems = [
        line for line in Path(odoo.install_log).read_text().splitlines()
        if re.search(r" (WARNING|ERROR|CRITICAL) ", line) and "smart_dairy" in line
    ]
    assert problems == []
    assert "Modules loaded." in Path(odoo.install_log).read_text()


def test_external_service_dispatches_a_ping_that_succeeds(worker, gateway):
    job_id = gateway("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
    assert isinstance(job_id, int)
    job = wait_for_state(gateway, job_id, "success")
    result = json.loads(job["result_json"])
    assert result["worker"].startswith("e2e@")
    assert result["hostname"]
    assert job["attempt"] == 1
    assert job["origin"] == "xmlrpc"
    assert job["date_enqueued"] and job["date_started"] and job["date_done"]
    assert job["date_enqueued"] <= job["date_started"] <= job["date_done"]
    assert job["duration"] > 0
    assert job["worker_hostname"].startswith("e2e@")


def test_a_rolled_back_dispatch_never_runs(odoo, worker, admin):
    uuids = json.loads(odoo.run_odoo_python(Path(__file__).with_name("odoo_dispatch.py")))
    committed = wait_for(
        lambda: admin("smart_dairy.job", "search_read", [("uuid", "=", uuids["committed"])], ["state"]),
        what="the committed job to exist")[0]
    wait_for_state(admin, committed["id"], "success")
    assert admin("smart_dairy.job", "search_count", [("uuid", "=", uuids["rolled_back"])]) == 0
    worker_log = worker.log.read_text()
    assert uuids["committed"] in worker_log, "the worker log names the tasks it received"
    assert uuids["rolled_back"] not in worker_log


def test_a_task_error_lands_in_odoo_without_retry(worker, admin):
    # Diagnostics are for system administrators only: the admin dispatches them.
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.fail",
                   kwargs={"error_type": "validation", "message": "cow 42 has no ear tag"})
    job = wait_for_state(admin, job_id, "failure")
    assert job["error_type"] == "validation"
    assert "cow 42 has no ear tag" in job["error_message"]
    assert job["attempt"] == 1


def test_a_transient_error_is_retried_then_fails_for_good(worker, admin):
    # database_lock: immediate retries, three of them (health.fail allows 3).
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.fail",
                   kwargs={"error_type": "database_lock", "message": "row locked"})
    job = wait_for_state(admin, job_id, "failure", timeout=60)
    assert job["attempt"] == 4
    assert job["error_type"] == "database_lock"


@pytest.mark.parametrize("args, kwargs, message", [
    (["no.such.task"], {}, "Unknown task 'no.such.task'"),
    (["smart_dairy.health.ping"], {"args": "{not json"}, "args is not valid JSON"),
    (["smart_dairy.health.ping"], {"queue": "celery:nope"}, "Queue 'celery:nope' does not exist"),
])
def test_bad_dispatch_is_a_clear_fault_and_writes_nothing(gateway, args, kwargs, message):
    before = gateway("smart_dairy.job", "search_count", [])
    with pytest.raises(xmlrpc.client.Fault) as fault:
        gateway("smart_dairy.job", "dispatch", *args, **kwargs)
    assert message in fault.value.faultString
    assert gateway("smart_dairy.job", "search_count", []) == before


def test_wrong_api_key_on_write_back_is_refused_and_changes_nothing(odoo, admin, gateway, bridge_key):
    job_id = gateway("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600)
    uuid = read_job(gateway, job_id)["uuid"]
    bridge_uid = admin("res.users", "search", [("login", "=", "smart_dairy_jobs_bridge")])[0]
    report = [{"uuid": uuid, "attempt": 0, "state": "started"}]
    with pytest.raises(xmlrpc.client.Fault) as fault:
        odoo.rpc("object").execute_kw(odoo.db, bridge_uid, "not-the-key", "smart_dairy.job", "bridge_report", [report])
    assert "Access Denied" in fault.value.faultString or "AccessDenied" in fault.value.faultString
    assert read_job(gateway, job_id)["state"] == "pending"
    # The same report with the real key is taken, so the refusal above was about the key alone.
    outcome = odoo.rpc("object").execute_kw(odoo.db, bridge_uid, bridge_key, "smart_dairy.job", "bridge_report", [report])
    assert outcome[0]["status"] == "applied"


def test_report_for_an_unknown_job_is_answered_not_applied(odoo, admin, bridge_key):
    bridge_uid = admin("res.users", "search", [("login", "=", "smart_dairy_jobs_bridge")])[0]
    outcome = odoo.rpc("object").execute_kw(
        odoo.db, bridge_uid, bridge_key, "smart_dairy.job", "bridge_report",
        [[{"uuid": "11111111-2222-3333-4444-555555555555", "attempt": 1, "state": "success", "result": "1"}]],
    )
    assert outcome == [{"uuid": "11111111-2222-3333-4444-555555555555", "status": "unknown",
                        "message": "No job with uuid 11111111-2222-3333-4444-555555555555."}]


def test_a_broker_outage_delays_jobs_but_loses_none(broker, worker, admin, gateway):
    broker.stop()
    try:
        job_id = gateway("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
        assert read_job(gateway, job_id)["state"] == "pending"
    finally:
        broker.start()
    cron_id = admin("ir.model.data", "check_object_reference", "smart_dairy_jobs", "ir_cron_sweep_pending_jobs")[1]
    admin("ir.cron", "method_direct_trigger", [cron_id])
    job = wait_for_state(gateway, job_id, "success", timeout=90)
    assert job["attempt"] == 1


def test_a_task_no_worker_knows_fails_instead_of_hanging(worker, admin):
    task_id = admin("smart_dairy.job.task", "search",
                    [("name", "=", "smart_dairy.sync.sync_inventory"), ("active", "=", False)])[0]
    admin("smart_dairy.job.task", "write", [task_id], {"active": True})
    secrets = {"password": "inventory-Pa55-31f9", "api_key": "ak-inventory-77d2e1"}
    try:
        job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.sync.sync_inventory", kwargs=secrets)
        job = wait_for_state(admin, job_id, "failure")
        assert job["error_type"] == "unknown_task"
        assert "smart_dairy.sync.sync_inventory" in job["error_message"]
    finally:
        admin("smart_dairy.job.task", "write", [task_id], {"active": False})
    # Celery would log the whole message (its kwargs with them): the worker logs its name and id only.
    log = wait_for(lambda: job["uuid"] in worker.log.read_text() and worker.log.read_text(), timeout=10,
                   what="the worker to log the refused task")
    for secret in secrets.values():
        assert secret not in log


@pytest.mark.parametrize("ignore_soft_limit, message", [
    (False, "SoftTimeLimitExceeded"),  # the task was warned and gave up cleanly
    (True, "TimeLimitExceeded"),  # the task ignored the warning and was killed
])
def test_time_limits_end_the_job_as_failure(worker, admin, ignore_soft_limit, message):
    task_id = admin("smart_dairy.job.task", "search", [("name", "=", "smart_dairy.health.sleep")])[0]
    admin("smart_dairy.job.task", "write", [task_id], {"soft_time_limit": 1, "time_limit": 2})
    try:
        job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.sleep",
                       kwargs={"seconds": 20, "ignore_soft_limit": ignore_soft_limit})
        job = wait_for_state(admin, job_id, {"failure", "success"}, timeout=30)
    finally:
        admin("smart_dairy.job.task", "write", [task_id], {"soft_time_limit": 25, "time_limit": 30})
    assert job["state"] == "failure"
    assert job["error_type"] == "time_limit"
    assert job["error_message"].startswith(message)


def test_worker_reports_reach_odoo_in_batches(odoo, broker, bridge_key, gateway):
    import redis

    from celery_bridge.core.config import load_settings
    from celery_bridge.worker.odoo_client import OdooClient, Reporter

    job_ids = [gateway("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600) for _ in range(30)]
    uuids = [job["uuid"] for job in gateway("smart_dairy.job", "read", job_ids, ["uuid"])]
    settings = load_settings({"ODOO_URL": odoo.url, "ODOO_DB": odoo.db, "ODOO_API_KEY": bridge_key}, section={})
    reporter = Reporter(redis.Redis.from_url(broker.url + "/0"), lambda: OdooClient(settings),
                        key="sdj:reports:batch-test")
    for uuid in uuids:
        reporter.submit({"uuid": uuid, "attempt": 0, "state": "started", "worker": "batch-test"})
    assert reporter.flush(timeout=30)
    states = {job["state"] for job in gateway("smart_dairy.job", "read", job_ids, ["state"])}
    assert states == {"started"}
    assert 1 <= reporter.sent_batches < 30, f"{reporter.sent_batches} XML-RPC calls for 30 reports"


def test_a_countdown_waits_in_odoo_then_runs(worker, gateway):
    job_id = gateway("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3)
    waiting = gateway("smart_dairy.job", "read", [job_id], ["state", "eta"])[0]
    assert waiting["state"] == "pending" and waiting["eta"]
    job = wait_for_state(gateway, job_id, "success", timeout=60)
    assert job["date_enqueued"] >= waiting["eta"], "sent when due, not before"
