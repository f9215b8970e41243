from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestJobsTour(HttpCase):
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
