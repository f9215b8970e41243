"""Queue metrics read the Redis transport as it really stores messages (a real Redis, real Celery publish);
a real worker process counts the attempts it runs again (celery_task_retries_total)."""
import os
import uuid

import pytest

from celery_bridge.worker import metrics
from celery_bridge.core.config import load_settings
from celery_bridge.broker.producer import Outgoing, publish
from celery_bridge.tests.test_worker_queues_and_metrics import HostWorker
from tests.e2e.harness import RedisServer, free_port, metric_sample, wait_for


def test_queue_length_counts_every_priority_list_and_the_oldest_message_age(redis_db):
    url = os.environ.get("SDJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    settings = load_settings({"CELERY_BROKER_URL": url}, section={})
    queue = redis_db.test_prefix + "q"
    messages = [Outgoing(uuid=f"{queue}-{priority}", task_name="smart_dairy.health.ping", queue=queue,
                         priority=priority, args=[], kwargs={}, attempt=1) for priority in (0, 5, 9)]
    assert publish(settings, messages) == [m.uuid for m in messages]
    lists = [name for name in metrics.priority_lists(queue) if redis_db.llen(name)]
    assert len(lists) == 3, "three priorities, three Redis lists"
    length, oldest = metrics.queue_stats(redis_db, queue)
    assert length == 3
    assert 0 < oldest < 60
    families = {family.name: family for family in metrics.BrokerCollector(redis_db, queues=[queue]).collect()}
    [sample] = families["celery_queue_length"].samples
    assert (sample.labels, sample.value) == ({"queue_name": queue}, 3)


def test_an_empty_queue_has_no_age(redis_db):
    assert metrics.queue_stats(redis_db, redis_db.test_prefix + "empty") == (0, 0.0)


@pytest.fixture
def lone_worker(tmp_path):
    """A real worker process (prefork, one child) on the queue ``celery`` of a private Redis, no Odoo:
    its reports wait in the spool."""
    broker = RedisServer(tmp_path)
    broker.start()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    worker = HostWorker(tmp_path, broker, tmpdir, "retries", "celery", free_port())
    try:
        worker.start()
        worker.settings = load_settings({"CELERY_BROKER_URL": f"{broker.url}/0"}, section={})
        worker.metrics_url = f"http://127.0.0.1:{worker.env['METRICS_PORT']}/metrics"
        yield worker
    finally:
        worker.stop()
        broker.stop()


def test_a_job_run_again_counts_as_a_retry_of_its_task(lone_worker):
    ping = "smart_dairy.health.ping"
    job = str(uuid.uuid4())

    def run(attempt):
        assert publish(lone_worker.settings, [Outgoing(uuid=job, task_name=ping, queue="celery", priority=5, args=[],
                                                       kwargs={}, attempt=attempt)]) == [job]

    def successes():
        return metric_sample(lone_worker.metrics_url, "celery_tasks_total", task_name=ping, state="success")

    run(1)
    wait_for(lambda: successes() == 1, timeout=30, what="the first attempt to succeed")
    assert metric_sample(lone_worker.metrics_url, "celery_task_retries_total", task_name=ping) == 0
    run(2)  # what Odoo sends when it retries the job
    wait_for(lambda: successes() == 2, timeout=30, what="the second attempt to succeed")
    assert metric_sample(lone_worker.metrics_url, "celery_task_retries_total", task_name=ping) == 1
