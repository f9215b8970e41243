"""A worker that dies takes nothing with it: not the reports it spooled, not the jobs it prefetched.

Real processes throughout (harness): Odoo over HTTP, a private Redis, Celery workers SIGKILLed as the
OOM killer would. Intervals are shrunk through the task types' settings and the workers' 1 s
heartbeat; the reaper's one-minute schedule is stood for by triggering it every second.
"""
import json
import socket
from pathlib import Path

import redis as redis_lib

from .harness import Worker, wait_for
from .test_reliability import lines, reap
from .test_walking_skeleton import wait_for_state


def jobs_state(admin, job_ids):
    return {job["id"]: job for job in admin("smart_dairy.job", "read", job_ids,
                                             ["state", "attempt", "held_by_worker", "dead_letter_ids"])}


def open_dead_letters(admin, job_ids):
    return admin("smart_dairy.job.dead.letter", "search_read",
                 [("job_id", "in", job_ids), ("state", "=", "new")], ["job_id", "error_type"])


def spooled_successes(broker, uuids):
    spool = redis_lib.Redis.from_url(broker.url + "/0").lrange("sdj:reports", 0, -1)
    return {report["uuid"] for report in map(json.loads, spool) if report["state"] == "success"} & set(uuids)


def test_a_spool_left_by_a_killed_worker_is_sent_by_a_new_idle_worker(
        live_worker, workdir, odoo, broker, admin, bridge_key, outside, task_settings):
    # A short lease: by the time Odoo is back the reaper has given up on the jobs, so their late
    # successes must settle them (the order met in the field: reaper first).
    task_settings("smart_dairy.health.touch", lease_seconds=3)
    live_worker.stop()  # the session's worker comes back for the next test (live_worker fixture)
    spooler = Worker(workdir, odoo, broker.url, bridge_key, name="spooler", concurrency=4)
    drainer = Worker(workdir, odoo, broker.url, bridge_key, name="drainer", concurrency=1)
    for process in (spooler, drainer):
        process.env.update(outside.env)
    spooler.start()
    files = [spooler.diagnostics_file("spooled") for _ in range(4)]
    job_ids = [admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name, "hold": 2})
               for name, _path in files]
    wait_for(lambda: {job["state"] for job in jobs_state(admin, job_ids).values()} == {"started"},
             timeout=30, what="the jobs to start")
    uuids = [job["uuid"] for job in admin("smart_dairy.job", "read", job_ids, ["uuid"])]
    odoo.stop_http()
    try:
        wait_for(lambda: spooled_successes(broker, uuids) == set(uuids), timeout=60,
                 what="every job to finish and its success to wait in the spool")
        spooler.kill_hard()  # dies with the spool full; nobody is left who submitted to it
        odoo.start()
        reap(admin)  # the reaper comes first: the jobs' leases ran out while Odoo was down
        assert {job["state"] for job in jobs_state(admin, job_ids).values()} == {"failure"}
        # A new worker with nothing to run: only its main process's drain can send the spool.
        drainer.start()
        wait_for(lambda: {job["state"] for job in jobs_state(admin, job_ids).values()} == {"success"},
                 timeout=60, interval=0.5, what="every job to reach success from the orphaned spool")
    finally:
        if not odoo.process:
            odoo.start()
        drainer.stop()
    assert open_dead_letters(admin, job_ids) == [], "a job that succeeded is not a dead letter"
    for job in admin("smart_dairy.job", "read", job_ids, ["attempt_log", "attempt"]):
        assert json.loads(job["attempt_log"])[-1]["outcome"] == "late_success" and job["attempt"] == 1
    assert [len(lines(path)) for _name, path in files] == [1, 1, 1, 1], "each job ran once"
    assert redis_lib.Redis.from_url(broker.url + "/0").llen("sdj:reports") == 0


def test_jobs_prefetched_by_a_killed_worker_are_run_by_another_once(
        live_worker, workdir, odoo, broker, admin, bridge_key, outside, task_settings):
    task_settings("smart_dairy.health.sleep", lease_seconds=3)
    task_settings("smart_dairy.health.touch", lease_seconds=3)
    # Two long jobs keep both pool processes busy, so the next ones wait prefetched in the worker.
    blockers = [admin("smart_dairy.job", "dispatch", "smart_dairy.health.sleep", kwargs={"seconds": 20})
                for _ in range(2)]
    for blocker in blockers:
        wait_for_state(admin, blocker, "started")
    files = [live_worker.diagnostics_file("prefetched") for _ in range(4)]
    job_ids = [admin("smart_dairy.job", "dispatch", "smart_dairy.health.touch", kwargs={"path": name})
               for name, _path in files]
    held_by = f"{live_worker.name}@{socket.gethostname()}"
    wait_for(lambda: {job["held_by_worker"] for job in jobs_state(admin, job_ids).values()} == {held_by},
             timeout=30, what="the worker's heartbeat to tell Odoo it holds the jobs")
    assert {job["state"] for job in jobs_state(admin, job_ids).values()} == {"enqueued"}
    live_worker.kill_hard()
    rescuer = Worker(workdir, odoo, broker.url, bridge_key, name="rescuer")
    rescuer.env.update(outside.env)
    rescuer.start()
    try:
        # Bound: 3 missed heartbeats (1 s here, 10 s by default) + the reaper's interval (triggered
        # every second here, one minute by default) + a publish and a run.
        def done():
            reap(admin)
            return all(job["state"] == "success" for job in jobs_state(admin, job_ids).values())

        wait_for(done, timeout=45, interval=1, what="the prefetched jobs to run on the other worker")
    finally:
        rescuer.stop()
    assert [len(lines(path)) for _name, path in files] == [1, 1, 1, 1], "each job ran exactly once"
    for job in jobs_state(admin, job_ids).values():
        assert job["attempt"] == 2, "sent again as a new attempt"
    assert Path(rescuer.log).read_text().count("succeeded") >= 4
