"""Odoo in production shape (prefork) and live progress over its bus: a browser-less websocket client,
logged in as a browser would be, hears of its own jobs' progress and end, and nobody else's."""
import json
import os
import threading
from datetime import date

import psycopg2
import pytest
import requests
import websocket

from .harness import wait_for

NOTIFICATION = "smart_dairy_jobs/job_progress"
PAYLOAD_FIELDS = {"id", "uuid", "state", "progress", "progress_message"}


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

    def updates_of(self, job_id):
        return [entry for payload in list(self.received) for entry in payload["jobs"] if entry["id"] == job_id]

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
