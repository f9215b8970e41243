"""The workers' XML-RPC client and report spool, against a local XML-RPC server and a real Redis.

The server speaks the real protocol and answers as Odoo's /xmlrpc/2 endpoints do; the end-to-end
tests run the same client against a real Odoo.
"""
import json
import threading
import time
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import pytest

from celery_bridge.core.config import load_settings
from celery_bridge.worker.odoo_client import OdooAuthError, OdooClient, Reporter


class FakeOdoo:
    """Records report batches; can be slowed down or told to refuse malformed reports."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.batches = []

    def authenticate(self, db, login, key, env):
        return 7 if key == "good-key" else False

    def execute_kw(self, db, uid, key, model, method, args, kwargs=None):
        if key != "good-key":
            raise xmlrpc.client.Fault(3, "Access Denied")
        assert (model, method) == ("smart_dairy.job", "bridge_report")
        reports = args[0]
        if any(report.get("state") == "poison" for report in reports):
            raise xmlrpc.client.Fault(2, "ValidationError: malformed")
        time.sleep(self.delay)
        self.batches.append(reports)
        return [{"uuid": r["uuid"], "status": "applied", "message": ""} for r in reports]


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")


def serve(fake, port=0):
    server = SimpleXMLRPCServer(("127.0.0.1", port), Handler, allow_none=True, logRequests=False)
    server.register_function(fake.authenticate, "authenticate")
    server.register_function(fake.execute_kw, "execute_kw")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def fake_odoo():
    fake = FakeOdoo(delay=0.05)
    server = serve(fake)
    fake.port = server.server_address[1]
    yield fake
    server.shutdown()
    server.server_close()


def settings_for(port, key="good-key"):
    return load_settings({"ODOO_URL": f"http://127.0.0.1:{port}", "ODOO_API_KEY": key, "RPC_TIMEOUT": "2"},
                         section={})


def report(n, state="success"):
    return {"uuid": f"job-{n}", "attempt": 1, "state": state}


def test_reports_queued_during_a_call_go_out_together(fake_odoo, redis_db):
    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(fake_odoo.port)), batch_size=500, key=redis_db.test_prefix + "spool")
    for n in range(60):
        reporter.submit(report(n))
    assert reporter.flush(timeout=10)
    delivered = [r["uuid"] for batch in fake_odoo.batches for r in batch]
    assert delivered == [f"job-{n}" for n in range(60)], "every report once, in order"
    assert len(fake_odoo.batches) < 10, f"{len(fake_odoo.batches)} calls for 60 reports: not batched"


def test_batch_size_is_respected(fake_odoo, redis_db):
    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(fake_odoo.port)), batch_size=5, key=redis_db.test_prefix + "spool")
    for n in range(23):
        reporter.submit(report(n))
    assert reporter.flush(timeout=10)
    assert max(len(batch) for batch in fake_odoo.batches) <= 5
    assert sum(len(batch) for batch in fake_odoo.batches) == 23


def test_reports_wait_for_odoo_to_come_back(redis_db):
    fake = FakeOdoo()
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(port)), retry_max_delay=0.5, key=redis_db.test_prefix + "spool")
    reporter.submit(report(1))
    assert not reporter.flush(timeout=1.0), "nothing can be delivered while Odoo is down"
    assert reporter.pending() == 1, "the report waits in the Redis spool"
    server = serve(fake, port)
    try:
        assert reporter.flush(timeout=15)
        assert [r["uuid"] for batch in fake.batches for r in batch] == ["job-1"]
    finally:
        server.shutdown()
        server.server_close()


def test_one_malformed_report_does_not_hold_back_the_others(fake_odoo, redis_db):
    fake_odoo.delay = 0.2
    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(fake_odoo.port)), key=redis_db.test_prefix + "spool")
    reporter.submit(report(0))  # occupies the line while the next three queue up together
    time.sleep(0.05)
    for item in (report(1), report(2, state="poison"), report(3)):
        reporter.submit(item)
    assert reporter.flush(timeout=10)
    delivered = [r["uuid"] for batch in fake_odoo.batches for r in batch]
    assert delivered == ["job-0", "job-1", "job-3"]


def test_wrong_key_is_an_auth_error(fake_odoo):
    with pytest.raises(OdooAuthError):
        OdooClient(settings_for(fake_odoo.port, key="bad")).report([report(1)])


def test_missing_key_says_what_to_do():
    with pytest.raises(OdooAuthError, match="ODOO_API_KEY is not set"):
        OdooClient(settings_for(1, key="")).authenticate()


def test_a_spool_left_by_a_dead_process_is_delivered_by_another(fake_odoo, redis_db):
    key = redis_db.test_prefix + "spool"
    for n in range(3):  # what a killed worker process left behind
        redis_db.rpush(key, json.dumps(report(n)))
    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(fake_odoo.port)), key=key)
    assert reporter.flush(timeout=10)
    assert [r["uuid"] for batch in fake_odoo.batches for r in batch] == ["job-0", "job-1", "job-2"]


def test_a_file_report_goes_alone_and_in_its_place(fake_odoo, redis_db):
    from celery_bridge.core.worker_reports import file_report

    reporter = Reporter(redis_db, lambda: OdooClient(settings_for(fake_odoo.port)), batch_size=500,
                        key=redis_db.test_prefix + "spool")
    reporter.submit({"uuid": "job-1", "attempt": 1, "state": "started"})
    reporter.submit(file_report("job-1", 1, "milk.csv", "text/csv", b"day,litres"))
    reporter.submit(report(1))
    reporter.submit(file_report("job-1", 1, "more.csv", "text/csv", b"x"))
    assert reporter.flush(timeout=10)
    calls = [[r.get("kind") or r["state"] for r in batch] for batch in fake_odoo.batches]
    assert [kind for call in calls for kind in call] == ["started", "file", "success", "file"], "in order"
    assert all(call == ["file"] or "file" not in call for call in calls), f"a file shares a call: {calls}"


def test_a_file_over_the_cap_is_not_spooled():
    from celery_bridge.core import worker_reports

    with pytest.raises(ValueError, match="MB are not attached"):
        worker_reports.file_report("job-1", 1, "big.bin", None, b"x" * (worker_reports.MAX_FILE_BYTES + 1))


def test_ask_calls_only_the_bridge_apis_questions(fake_odoo):
    client = OdooClient(settings_for(fake_odoo.port))
    with pytest.raises(ValueError, match="not a question of the bridge API"):
        client.ask("unlink", [1])
    with pytest.raises(xmlrpc.client.Fault):  # a listed question goes to smart_dairy.job.bridge
        client.ask("cleanup_batch", "uuid", "jobs", 90, 10)
