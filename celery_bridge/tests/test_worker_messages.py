"""A real Celery worker (its own Redis, no Odoo) given messages it must refuse or run.

- a task no worker implements, a message that is not a task, and a task that fails, all carrying
  secrets: the secrets appear nowhere in the worker's log (at DEBUG level, the chattiest), and the
  unknown task is still reported to Odoo (the report waits in the spool, Odoo being absent here);
- a job whose arguments do not fit its schema is reported as a validation failure and its body
  never runs; a diagnostics file name is resolved inside the worker's diagnostics folder.
"""
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
import redis
from kombu import Connection, Exchange, Producer, Queue

from celery_bridge.broker.app_factory import make_app
from celery_bridge.core.config import load_settings
from celery_bridge.broker.producer import ATTEMPT_HEADER, COMPANY_HEADER, USER_HEADER
from celery_bridge.core.scrub import MASK
from tests.e2e.harness import REPO, RedisServer, free_port, stop_process, wait_for

SECRETS = {"password": "hunter2-Pa55word-7c1e", "api_key": "ak-live-93f0a1b2c3d4e5", "pwd": "pwd-value-5e6f7a"}
SPOOL = "sdj:reports"


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("worker")
    broker = RedisServer(workdir)
    broker.start()
    queue = f"test-secrets-{uuid.uuid4().hex[:8]}"
    log = workdir / "worker.log"
    output = workdir / "worker.out"
    diagnostics = workdir / "diagnostics"
    env = dict(os.environ, CELERY_BROKER_URL=f"{broker.url}/0", CELERY_RESULT_BACKEND=f"{broker.url}/1",
               ODOO_URL=f"http://127.0.0.1:{free_port()}", ODOO_DB="nowhere", ODOO_API_KEY="not-used",
               RPC_TIMEOUT="1", METRICS_PORT="0", HEARTBEAT_INTERVAL="5", DIAGNOSTICS_DIR=str(diagnostics))
    env.pop("ODOO_RC", None)
    with open(output, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_bridge", "worker", "-Q", queue, "-P", "threads", "-c", "2",
             "-n", f"{queue}@%h", "-l", "DEBUG", "--without-gossip", "--without-mingle", "--without-heartbeat",
             f"--logfile={log}"],
            cwd=str(REPO), env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: (log.exists() and "ready." in log.read_text()) or process.poll() is not None,
                 timeout=60, what="the worker to be ready")
        assert process.poll() is None, output.read_text() + (log.read_text() if log.exists() else "")
        app = make_app(load_settings({"CELERY_BROKER_URL": f"{broker.url}/0",
                                      "CELERY_RESULT_BACKEND": f"{broker.url}/1"}), current=False)
        state = redis.Redis.from_url(f"{broker.url}/0")
        yield type("Worker", (), {"app": app, "queue": queue, "log": log, "output": output, "process": process,
                                  "state": state, "broker_url": f"{broker.url}/0", "diagnostics": diagnostics})
    finally:
        stop_process(process, 20)
        broker.stop()


def send_job(worker, task_name, args=(), kwargs=None):
    """Publish a message the way Odoo's producer does (attempt, company and user headers)."""
    job_uuid = str(uuid.uuid4())
    worker.app.send_task(task_name, args=list(args), kwargs=kwargs or {}, task_id=job_uuid, queue=worker.queue,
                         headers={ATTEMPT_HEADER: 1, COMPANY_HEADER: 1, USER_HEADER: 2}, ignore_result=True)
    return job_uuid


def spooled_report(worker, job_uuid, state):
    """The report for ``job_uuid`` in ``state`` that the worker spooled for Odoo (Odoo is absent here)."""
    for raw in worker.state.lrange(SPOOL, 0, -1):
        report = json.loads(raw)
        if report.get("uuid") == job_uuid and report.get("state") == state:
            return report
    return None


def worker_output(worker):
    return worker.log.read_text() + worker.output.read_text()


def test_a_task_no_worker_implements_is_reported_but_its_secrets_never_logged(worker):
    job_uuid = send_job(worker, "smart_dairy.nowhere.unknown_task", ["positional-secret-arg"],
                        dict(SECRETS, customer="Rahim"))
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30,
                      what="the unknown task's failure report")
    assert report["error_type"] == "unknown_task"
    assert "smart_dairy.nowhere.unknown_task" in report["error_message"]
    wait_for(lambda: job_uuid in worker.log.read_text(), timeout=10, what="the worker to log the refusal")
    logged = worker_output(worker)
    assert "no worker task is registered for" in logged and "body and arguments not logged" in logged
    for secret in SECRETS.values():
        assert secret not in logged
    assert "Rahim" not in logged and "positional-secret-arg" not in logged, "no argument at all is logged"


def test_an_invalid_task_message_is_reported_as_refused_without_logging_its_secrets(worker):
    # A job whose ETA is not a date: Celery refuses the message as invalid (and would log its body).
    job_uuid = str(uuid.uuid4())
    worker.app.send_task("smart_dairy.health.fail", args=["internal"], kwargs=dict(SECRETS), task_id=job_uuid,
                         queue=worker.queue, headers={ATTEMPT_HEADER: 1, COMPANY_HEADER: 1, "eta": "not-a-date"},
                         ignore_result=True)
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30, what="the refusal report")
    assert report["error_type"] == "validation" and "InvalidTaskError" in report["error_message"]
    assert "invalid task message" in worker.log.read_text()
    logged = worker_output(worker)
    for secret in SECRETS.values():
        assert secret not in logged


def test_a_message_that_is_not_a_task_is_dropped_without_logging_its_body(worker):
    marker = f"not-a-task-{uuid.uuid4().hex[:8]}"
    with Connection(worker.broker_url) as connection:
        Producer(connection).publish(
            {"password": SECRETS["password"], "note": marker}, exchange=Exchange(worker.queue),
            routing_key=worker.queue, declare=[Queue(worker.queue, Exchange(worker.queue), routing_key=worker.queue)],
            serializer="json",
        )
    wait_for(lambda: "not a task" in worker.log.read_text(), timeout=30, what="the worker to drop the message")
    logged = worker_output(worker)
    assert SECRETS["password"] not in logged and marker not in logged


def test_a_running_job_keeps_its_secrets_out_of_the_debug_log(worker):
    # health.fail takes extra keyword arguments (and ignores them): the worker receives, runs and
    # fails the job, logging each step at DEBUG level.
    job_uuid = send_job(worker, "smart_dairy.health.fail", ["internal", "planned failure"], SECRETS)
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30, what="the failure report")
    assert report["error_type"] == "internal"
    wait_for(lambda: "planned failure" in worker.log.read_text(), timeout=10, what="the failure to be logged")
    logged = worker_output(worker)
    assert job_uuid in logged
    for secret in SECRETS.values():
        assert secret not in logged


def test_inspecting_the_worker_over_the_broker_shows_no_job_arguments(worker):
    job_uuid = send_job(worker, "smart_dairy.health.sleep", [3])
    wait_for(lambda: spooled_report(worker, job_uuid, "started"), timeout=30, what="the job to start")
    replies = worker.app.control.inspect(timeout=2, destination=[f"{worker.queue}@{socket.gethostname()}"])
    active = wait_for(lambda: [task for tasks in (replies.active() or {}).values() for task in tasks
                               if task["id"] == job_uuid], timeout=10, what="the worker to list the job")
    assert active[0]["args"] == MASK and active[0]["kwargs"] == MASK


def test_arguments_that_do_not_fit_the_schema_are_refused_and_the_task_never_runs(worker):
    # A valid file name but a negative hold: the schema refuses it, touch never creates the file.
    job_uuid = send_job(worker, "smart_dairy.health.touch", ["refused-run.txt", -5])
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30, what="the refusal report")
    assert report["error_type"] == "validation"
    assert "arguments refused" in report["error_message"]
    assert spooled_report(worker, job_uuid, "started") is None, "refused before it starts"
    assert not (worker.diagnostics / "refused-run.txt").exists()
    # A path instead of a name is refused the same way and nothing is written outside the folder.
    outside = worker.diagnostics.parent / "outside.txt"
    job_uuid = send_job(worker, "smart_dairy.health.touch", [str(outside)])
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30, what="the refusal report")
    assert report["error_type"] == "validation"
    assert not outside.exists()


def test_touch_writes_inside_the_diagnostics_folder_only(worker):
    job_uuid = send_job(worker, "smart_dairy.health.touch", ["counted.txt"])
    report = wait_for(lambda: spooled_report(worker, job_uuid, "success"), timeout=30, what="the success report")
    assert json.loads(report["result"]) == {"runs": 1}
    written = worker.diagnostics / "counted.txt"
    assert written.read_text() == f"{job_uuid}\n"
    assert (worker.diagnostics.stat().st_mode & 0o777) == 0o700
    # A symlink planted in the folder does not lead the diagnostics outside it.
    target = worker.diagnostics.parent / "victim.txt"
    target.write_text("untouched\n")
    (worker.diagnostics / "planted").symlink_to(target)
    job_uuid = send_job(worker, "smart_dairy.health.touch", ["planted"])
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30, what="the refusal report")
    assert report["error_type"] == "permission"
    assert target.read_text() == "untouched\n"
    job_uuid = send_job(worker, "smart_dairy.health.expect_file", ["planted"])
    report = wait_for(lambda: spooled_report(worker, job_uuid, "failure"), timeout=30, what="the refusal report")
    assert report["error_type"] == "permission"

