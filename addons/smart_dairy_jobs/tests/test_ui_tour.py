import json
from datetime import timedelta

from unittest.mock import patch

from odoo import fields
from odoo.tests import HttpCase, tagged

from odoo.addons.bus.websocket import WebsocketConnectionHandler


@tagged("post_install", "-at_install")
class TestJobsTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # No websocket, as under Odoo's own test runner (pytest-odoo lets the browser connect, but the
        # test cursor never commits, so the bus would stay silent): the job form falls back to polling.
        # The bus itself is toured in test_live_tour.py.
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=False))

    def test_operator_reads_a_finished_job(self):
        Job = self.env["smart_dairy.job"]
        job = Job.dispatch("smart_dairy.health.ping")
        job.write({"state": "enqueued", "attempt": 1})
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        outcomes = Job.with_user(bridge).bridge_report([
            {"uuid": job.uuid, "attempt": 1, "state": "started"},
            {"uuid": job.uuid, "attempt": 1, "state": "success", "result": '{"pong": true}', "runtime": 0.042},
        ])
        self.assertEqual([o["status"] for o in outcomes], ["applied", "applied"])
        self.start_tour("/odoo", "smart_dairy_jobs_tour", login="admin")

    def test_manager_requeues_a_dead_letter(self):
        Job = self.env["smart_dairy.job"]
        # fail takes extra keyword arguments (expect_file takes a file name only): one of them a secret.
        job = Job.dispatch("smart_dairy.health.fail",
                           kwargs={"error_type": "not_found", "note": "delivery-note.csv", "api_key": "k-123"})
        job.write({"state": "enqueued", "attempt": 1})
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        Job.with_user(bridge).bridge_report([{
            "uuid": job.uuid, "attempt": 1, "state": "failure", "error_type": "not_found",
            "error_message": "NotFound: /srv/delivery-note.csv does not exist",
        }])
        entry = job.dead_letter_ids
        self.assertEqual(entry.state, "new")
        self.start_tour("/odoo", "smart_dairy_jobs_dead_letter_tour", login="admin")
        self.assertEqual(entry.state, "requeued")
        self.assertEqual(entry.requeued_job_id.original_job_id, job)

    def test_admin_checks_the_schedules(self):
        Schedule = self.env["smart_dairy.job.schedule"]
        at = fields.Datetime.now().replace(second=0) + timedelta(minutes=30)
        ping = self.env.ref("smart_dairy_jobs.task_health_ping")
        for name in ("Milk sync", "Feed sync"):
            Schedule.create({"name": name, "task_type_id": ping.id, "interval_number": 1, "interval_type": "hours",
                             "nextcall": at})
        self.start_tour("/odoo", "smart_dairy_jobs_schedule_tour", login="admin")

    def test_operator_watches_health_and_progress(self):
        Job = self.env["smart_dairy.job"]
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        failed = Job.dispatch("smart_dairy.health.fail", kwargs={"error_type": "validation"})
        running = Job.dispatch("smart_dairy.health.sleep")
        (failed | running).write({"state": "enqueued", "attempt": 1})
        Job.with_user(bridge).bridge_report([
            {"uuid": failed.uuid, "attempt": 1, "state": "failure", "error_type": "validation",
             "error_message": "InvalidInput: cow 42 has no ear tag"},
            {"uuid": running.uuid, "attempt": 1, "state": "started"},
            {"uuid": running.uuid, "attempt": 1, "state": "progress", "progress": 10,
             "progress_message": "Fetching data..."},
        ])
        self.env["smart_dairy.job.bridge"].with_user(bridge).bridge_heartbeat(
            {"hostname": "tour-worker@farm", "queues": ["celery"], "pool": "prefork", "concurrency": 2,
             "interval": 10})
        self.env["smart_dairy.job.worker"].search([("hostname", "=", "tour-worker@farm")]).last_heartbeat = \
            fields.Datetime.now() - timedelta(minutes=5)
        # The tour's worker reports progress as the workers do, over RPC as the bridge (job fields are the
        # system's: not even an administrator writes them); the page reads what to report from here.
        key = self.env["res.users.apikeys"].with_user(bridge).sudo()._generate("rpc", "tour worker", None)
        self.env["ir.config_parameter"].sudo().set_param("smart_dairy_jobs.tour_worker", json.dumps({
            "db": self.env.cr.dbname, "uid": bridge.id, "key": key, "uuid": running.uuid, "attempt": 1}))
        self.start_tour("/odoo", "smart_dairy_jobs_monitoring_tour", login="admin")
        self.assertEqual(running.progress, 50)
