"""In-process Odoo measurements for bench/run.py (real transactions, real commits).

python odoo_side.py ODOO_CONF DB COMMAND [ARGS]  — prints one JSON object.
"""
import json
import sys
import time

import odoo
from lxml import etree
from odoo.modules.registry import Registry
from odoo.tools import config

conf, db, command, *args = sys.argv[1:]
config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
registry = Registry(db)


def env_for(cr):
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})


def dispatch(count, mode="loop", task="smart_dairy.health.ping"):
    """N jobs dispatched from Odoo code in one transaction (a dispatch() per job, or one dispatch_many());
    the clock stops once all are on the broker."""
    count = int(count)
    started = time.perf_counter()
    with registry.cursor() as cr:
        Job = env_for(cr)["smart_dairy.job"]
        if mode == "batch":
            Job.dispatch_many([{"task_name": task}] * count)
        else:
            for _ in range(count):
                Job.dispatch(task)
    # leaving the block commits; the after-commit hook has published every message by now
    elapsed = time.perf_counter() - started
    return {"jobs": count, "seconds": elapsed, "committed_at": time.time()}


def round_trip(count, mode="loop", timeout=600):
    """N jobs dispatched in one transaction; the clock runs until all are 'success' in Odoo."""
    count = int(count)
    with registry.cursor() as cr:
        cr.execute("SELECT COALESCE(max(id), 0) FROM smart_dairy_job")
        since = cr.fetchone()[0]
    started = time.perf_counter()
    dispatch(count, mode)
    done = _poll_done(count, since, timeout)
    return {"jobs": count, "seconds": time.perf_counter() - started, "done": done}


def _poll_done(count, since_id, timeout):
    deadline = time.monotonic() + float(timeout)
    with registry.cursor() as cr:
        while time.monotonic() < deadline:
            cr.execute("SELECT count(*) FROM smart_dairy_job WHERE id > %s AND state IN ('success', 'failure')",
                       [int(since_id)])
            done = cr.fetchone()[0]
            if done >= int(count):
                return done
            cr.rollback()
            time.sleep(0.005)
    raise TimeoutError(f"only {done} of {count} jobs finished")


def max_id():
    with registry.cursor() as cr:
        cr.execute("SELECT COALESCE(max(id), 0) FROM smart_dairy_job")
        return {"max_id": cr.fetchone()[0]}


def latency(count):
    """Dispatch-commit → success visible in Odoo, one job at a time, idle workers."""
    samples = []
    for _ in range(int(count)):
        with registry.cursor() as cr:
            job_id = env_for(cr)["smart_dairy.job"].dispatch("smart_dairy.health.ping").id
        committed = time.perf_counter()
        with registry.cursor() as cr:
            while True:
                cr.execute("SELECT state FROM smart_dairy_job WHERE id = %s", [job_id])
                if cr.fetchone()[0] in ("success", "failure"):
                    break
                cr.rollback()
                time.sleep(0.0005)
        samples.append(time.perf_counter() - committed)
    return {"samples": samples}


def queue_job_enqueue(count):
    """OCA queue_job alone: N trivial jobs (a partner read) delayed in one transaction."""
    count = int(count)
    started = time.perf_counter()
    with registry.cursor() as cr:
        partner = env_for(cr)["res.partner"].browse(1)
        for _ in range(count):
            partner.with_delay(priority=5).read(["name"])
    return {"jobs": count, "seconds": time.perf_counter() - started, "committed_at": time.time()}


def queue_job_round_trip(count, timeout=900):
    """OCA queue_job alone: enqueue N trivial jobs, then wait until the runner has done them all."""
    count = int(count)
    since = queue_job_max_id()["max_id"]
    enqueued = queue_job_enqueue(count)
    started = time.perf_counter()
    deadline = time.monotonic() + float(timeout)
    with registry.cursor() as cr:
        while time.monotonic() < deadline:
            cr.execute("SELECT count(*) FROM queue_job WHERE id > %s AND state = 'done' AND method_name = 'read'",
                       [since])
            if cr.fetchone()[0] >= count:
                return {"enqueue_seconds": enqueued["seconds"], "drain_seconds": time.perf_counter() - started}
            cr.rollback()
            time.sleep(0.02)
    raise TimeoutError("queue_job did not drain in time")


def queue_job_max_id():
    with registry.cursor() as cr:
        cr.execute("SELECT COALESCE(max(id), 0) FROM queue_job")
        return {"max_id": cr.fetchone()[0]}


def fill_jobs(total):
    """Bring the job table to ``total`` rows with realistic finished jobs (one INSERT … SELECT)."""
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM smart_dairy_job")
        have = cr.fetchone()[0]
        missing = int(total) - have
        if missing > 0:
            env = env_for(cr)
            task = env.ref("smart_dairy_jobs.task_health_ping")
            cr.execute(
                """
                INSERT INTO smart_dairy_job (uuid, task_type_id, task_name, queue_id, priority, state, args_json,
                        kwargs_json, attempt, max_retries, origin, user_id, company_id, create_uid, write_uid,
                        create_date, write_date, date_enqueued, date_started, date_done, duration, wait_time,
                        result_json, progress, retry_count, attempt_log, on_dependency_failure)
                SELECT gen_random_uuid()::text, %(task)s, 'smart_dairy.health.ping', %(queue)s, 5,
                       (ARRAY['success','success','success','success','failure'])[1 + n %% 5], '[]', '{}', 1, 0,
                       'xmlrpc', 1, 1, 1, 1, ts, ts, ts, ts, ts, 0.003, 0.002, '{"ok": true}', 100, 0, '[]', 'cancel'
                  FROM generate_series(1, %(missing)s) AS n,
                       LATERAL (SELECT (now() AT TIME ZONE 'UTC') - (n || ' seconds')::interval AS ts) AS t
                """,
                {"task": task.id, "queue": task.queue_id.id, "missing": missing},
            )
            cr.execute("ANALYZE smart_dairy_job")
        cr.execute("SELECT count(*) FROM smart_dairy_job")
        return {"rows": cr.fetchone()[0]}


def list_view(repeat=5):
    """Server-side time of the search_read the Jobs list view makes (first page, default order)."""
    with registry.cursor() as cr:
        env = env_for(cr)
        Job = env["smart_dairy.job"]
        arch = etree.fromstring(Job.get_views([(False, "list")])["views"]["list"]["arch"])
        fields_spec = {node.get("name"): {} for node in arch.iterchildren("field")}
        samples = []
        for _ in range(int(repeat)):
            env.invalidate_all()
            started = time.perf_counter()
            Job.web_search_read([], fields_spec, limit=80, count_limit=10001)
            samples.append(time.perf_counter() - started)
        return {"samples": samples}


def dispatch_payload(count, task, kwargs_path, queue=""):
    """N jobs of ``task`` with the keyword arguments in the JSON file ``kwargs_path`` (one dispatch_many(),
    one transaction, on ``queue`` or the task's own); the clock stops once all are on the broker."""
    count = int(count)
    kwargs = json.loads(open(kwargs_path, encoding="utf-8").read())
    request = {"task_name": task, "kwargs": kwargs, **({"queue": queue} if queue else {})}
    with registry.cursor() as cr:
        cr.execute("SELECT COALESCE(max(id), 0) FROM smart_dairy_job")
        since = cr.fetchone()[0]
    started = time.perf_counter()
    with registry.cursor() as cr:
        env_for(cr)["smart_dairy.job"].dispatch_many([request] * count)
    return {"jobs": count, "seconds": time.perf_counter() - started, "since": since}


def round_trip_payload(count, task, kwargs_path, timeout=900):
    """dispatch_payload, then the clock runs until every job is 'success' or 'failure' in Odoo."""
    started = time.perf_counter()
    sent = dispatch_payload(count, task, kwargs_path)
    done = _poll_done(int(count), sent["since"], timeout)
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM smart_dairy_job WHERE id > %s AND state = 'success'", [sent["since"]])
        succeeded = cr.fetchone()[0]
    return {"jobs": int(count), "seconds": time.perf_counter() - started, "done": done, "succeeded": succeeded}


COMMANDS = {
    "dispatch_payload": dispatch_payload, "round_trip_payload": round_trip_payload,
    "dispatch": dispatch, "round_trip": round_trip, "max_id": max_id, "latency": latency,
    "queue_job_enqueue": queue_job_enqueue, "queue_job_round_trip": queue_job_round_trip,
    "queue_job_max_id": queue_job_max_id, "fill_jobs": fill_jobs, "list_view": list_view,
}
print(json.dumps(COMMANDS[command](*args)))
