"""B-009 §8.1, message compression: a task type (or its queue) set to gzip has its messages compressed on
the broker. What Odoo publishes for a large job is a gzip body in Redis, a fraction of the same job sent
uncompressed; the session's real worker decompresses it, checks its signature and runs it; and a
compressed message rewritten by someone with access to Redis is still refused."""
import base64
import json
import uuid
import zlib

import pytest
import redis as redis_lib

from celery_bridge.worker.metrics import priority_lists

from .harness import wait_for
from .test_broker_trust import refusal_logged
from .test_walking_skeleton import read_job, wait_for_state

PROBE = "celery:compression-probe"  # a queue no worker serves: what Odoo publishes there waits to be read
SEND_EMAIL = "smart_dairy.email.send_email"
ROWS = 3000


def milk_report_html(rows=ROWS):
    """A daily milk report as a mail body: ~200 kB of HTML table, as repetitive as real ones."""
    cells = "".join(f"<tr><td>Cow {n:04d}</td><td>Shed {n % 12}</td><td>{(n * 37) % 41}.{n % 10} L</td>"
                    f"<td>{3 + n % 3}.{n % 7} %</td></tr>" for n in range(rows))
    return f"<table><tr><th>Cow</th><th>Shed</th><th>Milk</th><th>Fat</th></tr>{cells}</table>"


@pytest.fixture(scope="module")
def probe_queue(admin):
    queue_id = admin("smart_dairy.job.queue", "create", {"name": PROBE, "description": "e2e: served by no worker"})
    yield PROBE
    admin("smart_dairy.job.queue", "write", [queue_id], {"active": False})


def take_published(redis, queue):
    """(list name, raw item) of the message Odoo published on ``queue``, taken off it."""
    def taken():
        for name in priority_lists(queue):
            item = redis.rpop(name)
            if item:
                return name, item
        return None
    return wait_for(taken, what=f"a message on {queue}")


def test_a_gzip_task_type_is_compressed_on_the_broker_and_runs_on_a_worker(admin, worker, broker, outside, probe_queue,
                                                                        task_settings):
    redis = redis_lib.Redis.from_url(broker.url + "/0")
    body = milk_report_html()
    assert len(body) > 200_000
    published = {}
    for compression in ("none", "gzip"):
        task_settings(SEND_EMAIL, compression=compression, rate_limit="")
        to = f"report-{compression}-{uuid.uuid4().hex[:6]}@farm.example"
        job_id = admin("smart_dairy.notification", "send_email", to, subject=f"Milk ({compression})",
                       body_html=body, queue=PROBE)
        wait_for_state(admin, job_id, "enqueued")
        name, item = take_published(redis, PROBE)
        published[compression] = (job_id, to, name, item, json.loads(item))

    plain, gzipped = published["none"][4], published["gzip"][4]
    assert "compression" not in plain["headers"]
    assert gzipped["headers"]["compression"] == "application/x-gzip"
    size_plain, size_gzip = len(published["none"][3]), len(published["gzip"][3])
    assert size_plain > 200_000 and size_gzip * 5 < size_plain, (size_plain, size_gzip)

    # The very messages Odoo published, handed to the worker's queue: decompressed, verified, run.
    for job_id, to, name, item, _envelope in published.values():
        redis.lpush(name.replace(PROBE, "celery:email"), item)
    for job_id, to, *_rest in published.values():
        wait_for_state(admin, job_id, "success")
        [message] = wait_for(lambda: [m for m in list(outside.smtp.messages) if m["To"] == to],
                             what=f"the mail to {to}")
        assert f"Cow {ROWS - 1:04d}" in message.get_body(("html",)).get_content()

    # A compressed message whose arguments were rewritten keeps no valid signature.
    job_id, to, name, item, envelope = published["gzip"]
    args, kwargs, embed = json.loads(zlib.decompress(base64.b64decode(envelope["body"])))
    kwargs["to"] = victim = f"victim-{uuid.uuid4().hex[:6]}@evil.example"
    envelope["body"] = base64.b64encode(zlib.compress(json.dumps([args, kwargs, embed]).encode())).decode()
    envelope["properties"]["delivery_tag"] = str(uuid.uuid4())
    redis.lpush(name.replace(PROBE, "celery:email"), json.dumps(envelope))
    task_id = envelope["headers"]["id"]
    refusal_logged(worker, task_id)
    assert "signature does not match" in worker.log.read_text()
    assert not [m for m in list(outside.smtp.messages) if m["To"] == victim], "the rewritten message ran"
    assert read_job(admin, job_id)["state"] == "success"
