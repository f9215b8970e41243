import json

from odoo.tests import TransactionCase, new_test_user


class OperationsCase(TransactionCase):
    """Jobs are finished the way workers finish them: through bridge_report, as the bridge user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clerk = new_test_user(cls.env, "ops_clerk", groups="smart_dairy_operations.group_user",
                                  email="clerk@farm.example")
        cls.bridge = cls.env.ref("smart_dairy_jobs.user_bridge")
        cls.Job = cls.env["smart_dairy.job"]

    def start(self, job):
        job.sudo().write({"state": "enqueued", "attempt": job.attempt + 1})
        self.report(job, "started")

    def report(self, job, state, **values):
        outcomes = self.Job.with_user(self.bridge).bridge_report([
            dict({"uuid": job.uuid, "attempt": job.attempt, "state": state}, **values)])
        self.assertEqual(outcomes[0]["status"], "applied", outcomes)
        job.invalidate_recordset()

    def succeed(self, job, result):
        self.start(job)
        self.report(job, "success", result=json.dumps(result), runtime=0.1)

    def fail_for_good(self, job, error_type="validation", message="refused"):
        self.start(job)
        self.report(job, "failure", error_type=error_type, error_message=message)
        self.assertEqual(job.state, "failure")

    def kwargs(self, job):
        return json.loads(job.sudo().kwargs_json)
