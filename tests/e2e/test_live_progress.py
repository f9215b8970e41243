"""Odoo in production shape (prefork) and live progress over its bus: a browser-less websocket client,
logged in as a browser would be, hears of its own jobs' progress and end, and nobody else's; every
Jobs user of the job's company hears that it changed (ids only), and of the workers' list."""
import json
import os
import threading
import uuid
from datetime import date

import psycopg2
import pytest
import requests
import websocket

from .harness import Client, wait_for

NOTIFICATION = "smart_dairy_jobs/job_progress"
PAYLOAD_FIELDS = {"id", "uuid", "state", "progress", "progress_message"}
# What the job form, the queue dashboard and the worker list are told (addons/smart_dairy_jobs/engine/live.py).
CHANGED = "smart_dairy_jobs/changed"
CHANGED_FIELDS = {"job_ids", "queue_ids", "worker_ids", "company_id", "truncated"}


class BusClient:
    """What Odoo's websocket worker (bus/static/src/workers/websocket_worker.js) does for a browser tab:
    log in over HTTP, open /websocket on the gevent port with the session cookie and subscribe."""

    def __init__(self, odoo, login, password):
        self.odoo = odoo
        self.http = requests.Session()
        info = self._json_rpc("/web/session/authenticate", {"db": odoo.db, "login": login, "password": password})
        assert info.get("uid"), f"cannot log in as {login}"
        self.uid = info["uid"]
        self.socket = websocket.create_connection(
            f"{odoo.websocket_url}?version={info['websocket_worker_version']}",
            cookie=f"session_id={self.http.cookies['session_id']}", origin=odoo.url, timeout=60,
        )
        # No channels of its own: Odoo adds the user's partner channel (and its groups') itself.
        self.socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
        self.received = []  # the job progress notifications, in the order they came
        self.changes = []  # the live-update notifications, in the order they came
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _json_rpc(self, path, params):
        response = self.http.post(f"{self.odoo.url}{path}", json={"jsonrpc": "2.0", "method": "call", "params": params},
                                  timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "error" not in body, body["error"]
        return body["result"]

    def call(self, model, method, *args, **kwargs):
        """A model method called as the web client calls it, with this session."""
        return self._json_rpc(f"/web/dataset/call_kw/{model}/{method}",
                              {"model": model, "method": method, "args": list(args), "kwargs": kwargs})

    def _read(self):
        while True:
            try:
                frame = self.socket.recv()
            except (websocket.WebSocketException, OSError):
                return
            for notification in json.loads(frame or "[]"):
                if notification["message"]["type"] == NOTIFICATION:
                    self.received.append(notification["message"]["payload"])
                elif notification["message"]["type"] == CHANGED:
                    self.changes.append(notification["message"]["payload"])

    def updates_of(self, job_id):
        return [entry for payload in list(self.received) for entry in payload["jobs"] if entry["id"] == job_id]

    def told_of(self, kind, record_id):
        """The live-update notifications that named this record (``kind``: job_ids, queue_ids, worker_ids)."""
        return [payload for payload in list(self.changes) if record_id in payload.get(kind, ())]

    def close(self):
        self.socket.close()
        self._reader.join(10)


@pytest.fixture(scope="module")
def bus_users(admin):
    """Two people who may start reports, each with a browser open on Odoo."""
    groups = [admin("ir.model.data", "check_object_reference", module, "group_user")[1]
              for module in ("smart_dairy_jobs", "smart_dairy_operations")]
    users = {}
    for login in ("live_viewer", "live_bystander"):
        admin("res.users", "create", {"name": login.replace("_", " ").title(), "login": login,
                                      "password": f"{login}-pass-1", "groups_id": [(6, 0, groups)]})
        users[login] = f"{login}-pass-1"
    return users


@pytest.fixture
def browsers(odoo, bus_users):
    clients = {login: BusClient(odoo, login, password) for login, password in bus_users.items()}
    yield clients["live_viewer"], clients["live_bystander"]
    for client in clients.values():
        client.close()


def test_odoo_runs_prefork_with_a_cron_worker_a_job_runner_and_the_gevent_port(odoo):
    roles = wait_for(lambda: (r := odoo.processes())["WorkerJobRunner"] and r["WorkerCron"] and r["gevent"] and r,
                     timeout=30, what="Odoo's workers to be up")
    assert len(roles["WorkerHTTP"]) == odoo.HTTP_WORKERS
    assert len(roles["WorkerCron"]) == 1
    assert len(roles["WorkerJobRunner"]) == 1 and len(roles["gevent"]) == 1
    pids = [pid for role_pids in roles.values() for pid in role_pids]
    assert len(set(pids)) == len(pids) and odoo.process.pid not in pids, roles


def test_the_dispatching_user_sees_progress_then_the_end_and_nobody_else_does(odoo, live_worker, browsers):
    viewer, bystander = browsers
    today = str(date.today())
    # The report reads the readings once it has said "10 % reading data": holding that table keeps it
    # there, so the progress is seen while the job runs, whatever the speed of this machine.
    hold = psycopg2.connect(host="127.0.0.1", user=os.environ.get("PGUSER_ODOO", "odoo"), dbname=odoo.db)
    try:
        hold.cursor().execute("LOCK TABLE smart_dairy_iot_reading IN ACCESS EXCLUSIVE MODE")
        job_id = viewer.call("smart_dairy.job", "dispatch", "smart_dairy.report.generate_report", kwargs={
            "report_type": "milk_production", "date_from": today, "date_to": today, "format": "csv"})
        running = wait_for(lambda: [u for u in viewer.updates_of(job_id) if u["progress"] == 10],
                           timeout=60, what="the viewer to hear of the job at 10 %")[0]
        assert running["state"] == "started" and running["progress_message"] == "reading data"
    finally:
        hold.close()  # rolls back: the report reads on
    finished = wait_for(lambda: [u for u in viewer.updates_of(job_id) if u["state"] == "success"],
                        timeout=60, what="the viewer to hear the job succeeded")[0]
    assert finished["progress"] == 100
    updates = viewer.updates_of(job_id)
    assert updates.index(running) < updates.index(finished)
    assert all(set(update) == PAYLOAD_FIELDS for update in updates), updates

    # The bystander's own job ends after the viewer's: its news reaching the bystander means anything
    # about the viewer's job would have reached them by now (one socket gets its notifications in order).
    own_job = bystander.call("smart_dairy.job", "dispatch", "smart_dairy.health.ping")
    wait_for(lambda: [u for u in bystander.updates_of(own_job) if u["state"] == "success"],
             timeout=60, what="the bystander to hear of their own job")
    assert bystander.updates_of(job_id) == []
    assert viewer.updates_of(own_job) == []


@pytest.fixture(scope="module")
def watchers(admin):
    """A Jobs user of the main company who dispatches nothing, and a Jobs user of another company."""
    jobs_group = admin("ir.model.data", "check_object_reference", "smart_dairy_jobs", "group_user")[1]
    other_company = admin("res.company", "create", {"name": "Live Other Dairy"})
    admin("res.users", "create", {"name": "Live Watcher", "login": "live_watcher", "password": "live_watcher-pass-1",
                                  "groups_id": [(6, 0, [jobs_group])]})
    admin("res.users", "create", {"name": "Live Outsider", "login": "live_outsider", "password": "live_outsider-pass-1",
                                  "groups_id": [(6, 0, [jobs_group])], "company_id": other_company,
                                  "company_ids": [(6, 0, [other_company])]})
    return {"live_watcher": "live_watcher-pass-1", "live_outsider": "live_outsider-pass-1"}


@pytest.fixture
def every_change_told(admin):
    """No throttle (at most one notification a second per target): a test can then count them; the
    throttle itself is tested in celery_bridge/tests/test_live_updates.py and the addon's tests."""
    param = "smart_dairy_jobs.live_update_interval"
    before = admin("ir.config_parameter", "get_param", param)
    admin("ir.config_parameter", "set_param", param, "0")
    yield
    admin("ir.config_parameter", "set_param", param, before or "")


def test_every_jobs_user_of_the_company_hears_of_a_report_landing_and_of_the_workers(
        odoo, live_worker, admin, bridge_key, browsers, watchers, every_change_told):
    viewer, _bystander = browsers
    watcher = BusClient(odoo, "live_watcher", watchers["live_watcher"])
    outsider = BusClient(odoo, "live_outsider", watchers["live_outsider"])
    bridge = Client(odoo, "smart_dairy_jobs_bridge", bridge_key)
    hostname = f"live-{uuid.uuid4().hex[:8]}@e2e"
    beat = {"hostname": hostname, "queues": ["celery"], "pool": "prefork", "concurrency": 1, "interval": 10}

    def heartbeat(active_tasks):
        """A worker's heartbeat (as a worker sends it) that changes what the Workers list shows; returns
        once the watcher and the outsider have heard of it: everything told them before has come too."""
        told_before = [len(client.changes) for client in (watcher, outsider)]
        bridge("smart_dairy.job.bridge", "bridge_heartbeat", dict(beat, active_tasks=active_tasks))
        worker_id = admin("smart_dairy.job.worker", "search", [("hostname", "=", hostname)])[0]
        for client, before in zip((watcher, outsider), told_before):
            wait_for(lambda: any(worker_id in payload.get("worker_ids", ()) for payload in client.changes[before:]),
                     timeout=30, what=f"{client.uid} to hear of the worker's heartbeat")
        return worker_id

    try:
        today = str(date.today())
        hold = psycopg2.connect(host="127.0.0.1", user=os.environ.get("PGUSER_ODOO", "odoo"), dbname=odoo.db)
        try:
            # As in the test above, the report waits at 10 % while the readings are locked.
            hold.cursor().execute("LOCK TABLE smart_dairy_iot_reading IN ACCESS EXCLUSIVE MODE")
            job_id = viewer.call("smart_dairy.job", "dispatch", "smart_dairy.report.generate_report", kwargs={
                "report_type": "milk_production", "date_from": today, "date_to": today, "format": "csv"})
            wait_for(lambda: [u for u in viewer.updates_of(job_id) if u["progress"] == 10],
                     timeout=60, what="the job to run, at 10 %")
            worker_id = heartbeat(active_tasks=0)  # a new worker in the list
            told_while_held = len(watcher.told_of("job_ids", job_id))
            assert told_while_held, "the watcher heard of someone else's job being dispatched and started"
        finally:
            hold.close()  # rolls back: the report reads on
        wait_for(lambda: admin("smart_dairy.job", "read", [job_id], ["state"])[0]["state"] == "success",
                 timeout=60, what="the report to succeed")
        heartbeat(active_tasks=1)  # busier; and a mark: what was told before it has reached both clients
        assert len(watcher.told_of("job_ids", job_id)) > told_while_held, "the reports that landed were told"
        job_queue = admin("smart_dairy.job", "read", [job_id], ["queue_id"])[0]["queue_id"][0]
        assert watcher.told_of("queue_ids", job_queue), "the queue dashboard was told"
        assert outsider.told_of("job_ids", job_id) == [], "another company's Jobs user hears nothing of the job"
        assert outsider.told_of("worker_ids", worker_id), "but hears of the workers, which serve every company"
        assert all(set(payload) <= CHANGED_FIELDS for client in (watcher, outsider) for payload in client.changes)
        assert not any("reading data" in json.dumps(payload) for payload in watcher.changes)
        admin("smart_dairy.job.worker", "unlink", [worker_id])
    finally:
        watcher.close()
        outsider.close()
