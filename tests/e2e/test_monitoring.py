"""Monitoring and live control with a real worker: metrics over HTTP, heartbeats, pause, rate limits."""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from celery_bridge.broker.app_factory import make_app
from celery_bridge.core.config import load_settings

from .harness import wait_for
from .test_walking_skeleton import read_job, wait_for_state


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_worker_metrics_after_a_known_workload(live_worker, admin):
    # Counters are cumulative: start from a quiet worker so that only this workload moves them.
    wait_for(lambda: admin("smart_dairy.job", "search_count",
                           [("state", "in", ("pending", "enqueued", "started", "retry")), ("eta", "=", False)]) == 0,
             timeout=60, what="earlier jobs to finish")
    before = wait_for(lambda: scrape(live_worker.metrics_url), what="the worker's metrics endpoint")
    pings = [admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping") for _ in range(3)]
    failing = admin("smart_dairy.job", "dispatch", "smart_dairy.health.fail", kwargs={"error_type": "validation"})
    for job_id in pings:
        wait_for_state(admin, job_id, "success")
    wait_for_state(admin, failing, "failure")
    after = scrape(live_worker.metrics_url)
    ping = {"task_name": "smart_dairy.health.ping", "queue": "celery"}
    assert value(after, "celery_tasks_total", state="success", **ping) - \
        value(before, "celery_tasks_total", state="success", **ping) == 3
    assert value(after, "celery_tasks_total", state="failure", task_name="smart_dairy.health.fail", queue="celery") \
        - value(before, "celery_tasks_total", state="failure", task_name="smart_dairy.health.fail", queue="celery") == 1
    assert value(after, "celery_task_duration_seconds_count", task_name="smart_dairy.health.ping") - \
        value(before, "celery_task_duration_seconds_count", task_name="smart_dairy.health.ping") == 3
    assert value(after, "celery_task_duration_seconds_bucket", task_name="smart_dairy.health.ping", le="60.0") >= 3
    assert value(after, "celery_queue_length", queue_name="celery") == 0
    assert value(after, "celery_workers_active") == 1


def test_the_worker_appears_in_the_workers_view(live_worker, admin):
    workers = wait_for(lambda: admin("smart_dairy.job.worker", "search_read", [("state", "=", "online")],
                                     ["hostname", "queues", "pool_type", "concurrency"]),
                       what="a heartbeat to reach Odoo")
    [worker] = [w for w in workers if w["hostname"].startswith("e2e@")]
    assert worker["pool_type"] == "prefork" and worker["concurrency"] == 2
    assert "celery:iot" in worker["queues"].split(",")


def test_pausing_a_queue_holds_its_jobs_in_odoo_and_resume_releases_them(live_worker, admin, broker):
    queue_id = admin("smart_dairy.job.queue", "search", [("name", "=", "celery:high")])[0]
    admin("smart_dairy.job.queue", "action_pause", [queue_id])
    try:
        app = make_app(load_settings({"CELERY_BROKER_URL": broker.url + "/0"}, section={}), current=False)

        def consuming_high():
            replies = app.control.inspect(timeout=2).active_queues() or {}
            return any(q["name"] == "celery:high" for queues in replies.values() for q in queues)
        wait_for(lambda: not consuming_high(), timeout=30, what="workers to stop consuming celery:high")
        job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping", queue="celery:high")
        assert read_job(admin, job_id)["state"] == "pending"
    finally:
        admin("smart_dairy.job.queue", "action_resume", [queue_id])
    wait_for(consuming_high, timeout=30, what="workers to consume celery:high again")
    assert wait_for_state(admin, job_id, "success")["state"] == "success"


def test_a_rate_limit_set_in_odoo_reaches_the_worker_live(live_worker, admin, broker, task_settings):
    app = make_app(load_settings({"CELERY_BROKER_URL": broker.url + "/0"}, section={}), current=False)

    def worker_rate():
        replies = app.control.inspect(timeout=2).registered("rate_limit") or {}
        for tasks in replies.values():
            for entry in tasks:
                if entry.startswith("smart_dairy.health.touch "):
                    return entry
        return ""
    task_settings("smart_dairy.health.touch", rate_limit="120/m")
    assert "rate_limit=120/m" in wait_for(lambda: "rate_limit=120/m" in worker_rate() and worker_rate(),
                                          timeout=30, what="the worker to apply the rate limit")
