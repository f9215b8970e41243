"""Broker trust: a client that can write to Redis but holds no signing secret cannot start a task —
not a backup, not a diagnostic — nor make a real job's message speak for another company."""
import uuid
from pathlib import Path

from celery_bridge.broker.app_factory import make_app
from celery_bridge.core.config import load_settings
from celery_bridge.broker.producer import ATTEMPT_HEADER, COMPANY_HEADER, USER_HEADER

from .harness import signed_headers, wait_for
from .test_walking_skeleton import read_job, wait_for_state


def rogue_app(broker):
    """A Celery client on the real broker, as anyone with the Redis password could build one."""
    return make_app(load_settings({"CELERY_BROKER_URL": broker.url + "/0"}, section={}), current=False)


def refusal_logged(worker, task_id):
    return wait_for(lambda: f"[{task_id}] refused: " in worker.log.read_text(), timeout=30,
                    what=f"the worker to refuse {task_id}")


def test_an_unsigned_message_is_never_run(live_worker, broker):
    name, marker = live_worker.diagnostics_file()
    task_id = str(uuid.uuid4())
    rogue_app(broker).send_task("smart_dairy.health.touch", kwargs={"path": name}, task_id=task_id, queue="celery")
    refusal_logged(live_worker, task_id)
    assert "the message is not signed" in live_worker.log.read_text()
    assert not marker.exists(), "an unsigned message ran"


def test_a_backup_cannot_be_started_through_the_broker(live_worker, broker, outside):
    task_id = str(uuid.uuid4())
    backup_dir = Path(outside.env["BACKUP_DIR"])
    backups_before = sorted(backup_dir.iterdir()) if backup_dir.exists() else []
    rogue_app(broker).send_task("smart_dairy.maintenance.backup_database", kwargs={"keep": 1}, task_id=task_id,
                                queue="celery:low", headers={ATTEMPT_HEADER: 1, COMPANY_HEADER: 1, USER_HEADER: 2})
    refusal_logged(live_worker, task_id)
    backups_after = sorted(backup_dir.iterdir()) if backup_dir.exists() else []
    assert backups_after == backups_before, "a forged backup ran (or its rotation deleted dumps)"


def test_a_real_jobs_message_cannot_be_rewritten_for_another_company(live_worker, broker, admin):
    """A copy of a signed message with its company header changed is refused, and the real job is not
    touched by it (no failure reported for a message whose headers cannot be trusted)."""
    name, marker = live_worker.diagnostics_file()
    kwargs = {"path": name}
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs=kwargs)
    job = wait_for_state(admin, job_id, "success")
    headers = signed_headers("smart_dairy.health.touch", job["uuid"], kwargs=kwargs,
                             **{ATTEMPT_HEADER: job["attempt"] + 1, COMPANY_HEADER: 1, USER_HEADER: 2})
    headers[COMPANY_HEADER] = 2  # the signature was made for company 1
    rogue_app(broker).send_task("smart_dairy.health.touch", kwargs=kwargs, task_id=job["uuid"], queue="celery",
                                headers=headers)
    refusal_logged(live_worker, job["uuid"])
    assert "signature does not match" in live_worker.log.read_text()
    assert marker.read_text().count(job["uuid"]) == 1, "the rewritten message ran"
    after = read_job(admin, job_id)
    assert (after["state"], after["attempt"], after["error_type"]) == ("success", job["attempt"], False)
