import json
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..engine import live
from .live_bus import BusDeliveredCase


@tagged("post_install", "-at_install")
class TestLiveTour(BusDeliveredCase):
    def test_dashboard_workers_and_someone_elses_job_follow_the_bus(self):
        self.env["ir.config_parameter"].sudo().set_param(live.INTERVAL_PARAM, "0")
        live.THROTTLE.reset()
        self.addCleanup(live.THROTTLE.reset)
        queue = self.env["smart_dairy.job.queue"].create({"name": "celery:live-tour", "description": "Live tour"})
        Job = self.env["smart_dairy.job"]
        # Dispatched by the system, not by the tour's user: the owner's own notification is not what moves it.
        running = Job.dispatch("smart_dairy.health.sleep")
        running.write({"state": "enqueued", "attempt": 1})
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        Job.with_user(bridge).bridge_report([
            {"uuid": running.uuid, "attempt": 1, "state": "started"},
            {"uuid": running.uuid, "attempt": 1, "state": "progress", "progress": 10},
        ])
        # A job whose worker fell silent, taken back by the reaper and failed for good; its success
        # comes later, within its lease, and settles it: a finished job's form that only a bus
        # notification can bring up to date (nothing polls a finished job).
        given_up = Job.dispatch("smart_dairy.health.ping")
        given_up.write({"state": "enqueued", "attempt": 1})
        Job.with_user(bridge).bridge_report([{"uuid": given_up.uuid, "attempt": 1, "state": "started"}])
        lease_end = fields.Datetime.now() - timedelta(seconds=60)
        given_up.lease_expires_at = lease_end
        Job._cron_reap_stuck_jobs()
        self.assertEqual(given_up.state, "failure")
        admin = self.env.ref("base.user_admin")
        self.assertNotIn(admin, (running | given_up).user_id)
        key = self.env["res.users.apikeys"].with_user(bridge).sudo()._generate("rpc", "live tour worker", None)
        self.env["ir.config_parameter"].sudo().set_param("smart_dairy_jobs.live_tour_worker", json.dumps({
            "db": self.env.cr.dbname, "uid": bridge.id, "key": key, "uuid": running.uuid, "attempt": 1,
            "late_uuid": given_up.uuid,
            "late_at": fields.Datetime.to_string(lease_end - timedelta(seconds=5)) + ".000000"}))
        self.start_tour("/odoo", "smart_dairy_jobs_live_tour", login="admin")
        self.assertEqual(queue.depth, 1)
        self.assertEqual(running.progress, 60)
        self.assertEqual(given_up.state, "success")
        self.assertTrue(self.env["smart_dairy.job.worker"].search([("hostname", "=", "live-tour@farm")]))
