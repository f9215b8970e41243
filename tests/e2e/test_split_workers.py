"""Worker fleets split by queue, as docker-compose splits them (general, IoT, payment), against the
session's real Odoo and broker: a queue paused and resumed in Odoo comes back only on the workers
started for it, a worker started while it was paused takes it up after the resume, and every job
runs on a worker of its own queue (Odoo's job records say which worker ran it).

The session's worker serves every queue: it is stopped for this module and started again after.
"""
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from celery_bridge.broker.app_factory import make_app
from celery_bridge.core.config import load_settings

from .harness import Worker, wait_for
from .test_walking_skeleton import wait_for_state

# docker-compose.yml's worker-general, worker-iot and worker-payment, one process each.
FLEET = {"general": "celery,celery:high,celery:low", "iot": "celery:iot", "payment": "celery:payment"}
SERVES = {"celery": "general", "celery:high": "general", "celery:iot": "iot", "celery:payment": "payment"}


def node(worker):
    return f"{worker.name}@{socket.gethostname()}"


@pytest.fixture(scope="module")
def fleet(workdir, odoo, broker, bridge_key, worker):
    """The split fleet, started; and ``late``, an IoT worker the test starts itself."""
    worker.stop()
    workers = {name: Worker(workdir, odoo, broker.url, bridge_key, name=f"split-{name}", concurrency=1, queues=queues)
               for name, queues in dict(FLEET, late="celery:iot").items()}
    try:
        with ThreadPoolExecutor(len(workers)) as pool:
            list(pool.map(Worker.start, (workers[name] for name in FLEET)))
        yield workers
    finally:
        with ThreadPoolExecutor(len(workers)) as pool:
            list(pool.map(Worker.stop, workers.values()))
        worker.start()


@pytest.fixture(scope="module")
def control(broker):
    return make_app(load_settings({"CELERY_BROKER_URL": broker.url + "/0"}, section={}), current=False).control


def consuming(control, worker):
    """The queues ``worker`` consumes now, as it answers Celery's own inspect."""
    replies = control.inspect(destination=[node(worker)], timeout=2).active_queues() or {}
    return {queue["name"] for queues in replies.values() for queue in queues}


def ran_on(admin, job_ids):
    """{job id: the name of the worker (fleet key) that ran it}, once every job succeeded."""
    jobs = [wait_for_state(admin, job_id, "success") for job_id in job_ids]
    return {job_id: job["worker_hostname"].split("@")[0].removeprefix("split-") for job_id, job in zip(job_ids, jobs)}


def dispatch_pings(admin, queue, count):
    return [admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping", queue=queue) for _ in range(count)]


def assert_each_queue_runs_on_its_own_workers(admin, serves):
    job_queues = {job_id: queue for queue in serves for job_id in dispatch_pings(admin, queue, 2)}
    ran = ran_on(admin, list(job_queues))
    misplaced = {job_id: (queue, ran[job_id]) for job_id, queue in job_queues.items()
                 if ran[job_id] not in serves[queue]}
    assert misplaced == {}, "job: (its queue, the worker that ran it)"


def test_a_resumed_queue_comes_back_only_on_its_own_workers_and_on_one_started_while_paused(fleet, admin, control):
    assert_each_queue_runs_on_its_own_workers(admin, {queue: {name} for queue, name in SERVES.items()})
    iot_queue = admin("smart_dairy.job.queue", "search", [("name", "=", "celery:iot")])[0]
    late = fleet["late"]
    admin("smart_dairy.job.queue", "action_pause", [iot_queue])
    try:
        wait_for(lambda: "celery:iot" not in consuming(control, fleet["iot"]), timeout=15,
                 what="the IoT worker to stop consuming the paused queue")
        late.start()
        wait_for(lambda: consuming(control, late) == set(), timeout=15,
                 what="the worker started while celery:iot is paused to learn it from its heartbeat")
        waiting = dispatch_pings(admin, "celery:iot", 4)
        assert {job["state"] for job in admin("smart_dairy.job", "read", waiting, ["state"])} == {"pending"}
        admin("smart_dairy.job.queue", "action_resume", [iot_queue])
        iot_workers = {"iot", "late"}
        assert set(ran_on(admin, waiting).values()) <= iot_workers
        wait_for(lambda: consuming(control, late) == {"celery:iot"}, timeout=15,
                 what="the worker started while paused to consume celery:iot after the resume")
        assert consuming(control, fleet["iot"]) == {"celery:iot"}
        assert consuming(control, fleet["general"]) == {"celery", "celery:high", "celery:low"}
        assert consuming(control, fleet["payment"]) == {"celery:payment"}
        assert_each_queue_runs_on_its_own_workers(admin, dict(
            {queue: {name} for queue, name in SERVES.items()}, **{"celery:iot": iot_workers}))
        # The late worker alone serves the IoT queue now: it runs the IoT jobs.
        fleet["iot"].stop()
        assert set(ran_on(admin, dispatch_pings(admin, "celery:iot", 2)).values()) == {"late"}
    finally:
        admin("smart_dairy.job.queue", "action_resume", [iot_queue])
