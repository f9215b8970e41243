import base64

from odoo.exceptions import AccessError, ValidationError

from .common import OperationsCase


class TestReports(OperationsCase):
    def setUp(self):
        super().setUp()
        self.request = self.env["smart_dairy.report.request"].with_user(self.clerk).create({
            "report_type": "milk_production", "date_from": "2026-11-01", "date_to": "2026-11-20",
            "file_format": "xlsx"})

    def test_generate_then_ready_attaches_and_tells_the_user(self):
        self.request.action_generate()
        job = self.request.job_id
        self.assertEqual((job.task_name, job.queue_id.name, job.user_id), ("smart_dairy.report.generate_report",
                                                                         "celery:report", self.clerk))
        self.assertEqual(self.kwargs(job), {"report_type": "milk_production", "date_from": "2026-11-01",
                                            "date_to": "2026-11-20", "format": "xlsx"})
        self.assertEqual((job.task_type_id.time_limit, job.task_type_id.soft_time_limit,
                          job.task_type_id.max_retries), (3600, 3300, 2))
        self.start(job)
        for percent in (10, 50, 90):
            self.report(job, "progress", progress=percent)
            self.assertEqual(self.request.job_progress, percent)
        attachment_id = self.Job.with_user(self.bridge).attach_file(
            job.uuid, job.attempt, "milk.xlsx", "application/vnd.ms-excel", base64.b64encode(b"PK..").decode())
        self.report(job, "success", result='{"attachment_id": %d}' % attachment_id)
        self.assertEqual((self.request.state, self.request.attachment_id.id), ("done", attachment_id))
        self.assertEqual(job.attachment_ids.ids, [attachment_id])
        self.assertIn(self.clerk.partner_id, self.request.message_ids[:1].partner_ids)
        mail = self.Job.sudo().search([("task_name", "=", "smart_dairy.email.send_email"),
                                       ("res_model", "=", "smart_dairy.report.request")])
        self.assertEqual(self.kwargs(mail)["to"], "clerk@farm.example")
        self.assertEqual(self.kwargs(mail)["template"], "report_ready")
        self.assertIn(f"/{self.request.id}", self.kwargs(mail)["context"]["download_url"])

    def test_a_soft_time_out_tells_the_user_instead_of_failing_silently(self):
        self.request.action_generate()
        job = self.request.job_id
        self.start(job)
        for _attempt in range(3):  # whatever the retry policy for time limits, it ends in failure
            self.report(job, "failure", error_type="time_limit", error_message="SoftTimeLimitExceeded()")
            if job.state != "retry":
                break
            self.start(job)
        self.assertEqual((job.state, self.request.state), ("failure", "failed"))
        self.assertIn("time limit", self.request.message_ids[:1].body)
        mail = self.Job.sudo().search([("task_name", "=", "smart_dairy.email.send_email"),
                                       ("res_model", "=", "smart_dairy.report.request")])
        self.assertEqual(self.kwargs(mail)["template"], "report_timed_out")

    def test_files_are_attached_by_the_bridge_only_to_a_running_attempt(self):
        self.request.action_generate()
        job = self.request.job_id
        data = base64.b64encode(b"x").decode()
        with self.assertRaises(ValidationError):  # not sent to a worker yet
            self.Job.with_user(self.bridge).attach_file(job.uuid, 1, "a.csv", "text/csv", data)
        job.sudo().write({"state": "enqueued", "attempt": 1})
        # On the worker, before its "started" report reached Odoo through the spool: accepted.
        self.assertTrue(self.Job.with_user(self.bridge).attach_file(job.uuid, 1, "early.csv", "text/csv", data))
        with self.assertRaises(ValidationError):  # another attempt's file
            self.Job.with_user(self.bridge).attach_file(job.uuid, 2, "a.csv", "text/csv", data)
        job.sudo().write({"state": "pending", "attempt": 0})
        self.start(job)
        with self.assertRaises(AccessError):
            self.Job.with_user(self.clerk).attach_file(job.uuid, job.attempt, "a.csv", "text/csv", data)
        with self.assertRaises(ValidationError):
            self.Job.with_user(self.bridge).attach_file(job.uuid, job.attempt, "../a.csv", "text/csv", data)
        with self.assertRaises(ValidationError):
            self.Job.with_user(self.bridge).attach_file(job.uuid, job.attempt, "a.csv", "text/csv", "not base64!")

    def test_users_see_only_their_own_reports(self):
        from odoo.tests import new_test_user

        other = new_test_user(self.env, "ops_other", groups="smart_dairy_operations.group_user")
        self.assertFalse(self.env["smart_dairy.report.request"].with_user(other).search([]))
        self.assertIn(self.request, self.env["smart_dairy.report.request"].search([]))

    def test_period_must_be_in_order(self):
        with self.assertRaises(ValidationError):
            self.request.write({"date_to": "2026-10-01"})
