from odoo.exceptions import AccessError, ValidationError

from odoo.addons.smart_dairy_jobs.tests.helpers import trap_jobs

from celery_bridge.core.worker_reports import file_report

from .common import OperationsCase


class TestReports(OperationsCase):
    def setUp(self):
        super().setUp()
        self.request = self.env["smart_dairy.report.request"].with_user(self.clerk).create({
            "report_type": "milk_production", "date_from": "2026-11-01", "date_to": "2026-11-20",
            "file_format": "xlsx"})

    def test_generate_then_ready_attaches_and_tells_the_user(self):
        with trap_jobs(self.env) as trap:
            self.request.action_generate()
        [trapped] = trap.assert_dispatched("smart_dairy.report.generate_report", args=[], kwargs={
            "report_type": "milk_production", "date_from": "2026-11-01", "date_to": "2026-11-20", "format": "xlsx"},
            user=self.clerk, company=self.env.company)
        job = self.request.job_id
        self.assertEqual((trapped.job, job.queue_id.name), (job, "celery:report"))
        self.assertEqual(self.kwargs(job), {"report_type": "milk_production", "date_from": "2026-11-01",
                                            "date_to": "2026-11-20", "format": "xlsx"})
        self.assertEqual((job.task_type_id.time_limit, job.task_type_id.soft_time_limit,
                          job.task_type_id.max_retries), (3600, 3300, 2))
        self.start(job)
        for percent in (10, 50, 90):
            self.report(job, "progress", progress=percent)
            self.assertEqual(self.request.job_progress, percent)
        [outcome] = self.send_file(job.uuid, job.attempt, "milk.xlsx", "application/vnd.ms-excel", b"PK..")
        attachment_id = outcome["attachment_id"]
        self.report(job, "success", result='{"filename": "milk.xlsx"}')
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

    def send_file(self, uuid, attempt, filename, mimetype, content, user=None, **changes):
        """A worker's file report, as the spool sends it: alone in its call."""
        report = dict(file_report(uuid, attempt, filename, mimetype, content), **changes)
        return self.Job.with_user(user or self.bridge).bridge_report([report])

    def test_files_are_attached_by_the_bridge_only_to_a_running_attempt(self):
        self.request.action_generate()
        job = self.request.job_id
        status = lambda outcomes: outcomes[0]["status"]  # noqa: E731
        self.assertEqual(status(self.send_file(job.uuid, 1, "a.csv", "text/csv", b"x")), "ignored")  # not sent yet
        job.sudo().write({"state": "enqueued", "attempt": 1})
        # Enqueued: the spool keeps the worker's "started" report ahead of its file, but a job whose
        # "started" was ignored may still take its file.
        self.assertEqual(status(self.send_file(job.uuid, 1, "early.csv", "text/csv", b"x")), "applied")
        self.assertEqual(status(self.send_file(job.uuid, 2, "a.csv", "text/csv", b"x")), "ignored")  # another attempt
        job.sudo().write({"state": "pending", "attempt": 0})
        self.start(job)
        with self.assertRaises(AccessError):
            self.send_file(job.uuid, job.attempt, "a.csv", "text/csv", b"x", user=self.clerk)
        self.assertEqual(status(self.send_file(job.uuid, job.attempt, "../a.csv", "text/csv", b"x")), "invalid")
        self.assertEqual(status(self.send_file(job.uuid, job.attempt, "a.csv", "text/csv", b"x",
                                               data="not base64!")), "invalid")
        self.assertEqual(job.sudo().attachment_ids.mapped("name"), ["early.csv"])

    def test_a_file_report_never_overtakes_the_started_report_of_its_batch(self):
        self.request.action_generate()
        job = self.request.job_id
        job.sudo().write({"state": "enqueued", "attempt": 1})
        outcomes = self.Job.with_user(self.bridge).bridge_report([
            {"uuid": job.uuid, "attempt": 1, "state": "started"},
            file_report(job.uuid, 1, "milk.csv", "text/csv", b"day,litres"),
            {"uuid": job.uuid, "attempt": 1, "state": "success", "result": "{}"},
            file_report(job.uuid, 1, "late.csv", "text/csv", b"x"),
        ])
        self.assertEqual([outcome["status"] for outcome in outcomes], ["applied", "applied", "applied", "ignored"])
        self.assertEqual((self.request.state, self.request.attachment_id.name), ("done", "milk.csv"))

    def test_users_see_only_their_own_reports(self):
        from odoo.tests import new_test_user

        other = new_test_user(self.env, "ops_other", groups="smart_dairy_operations.group_user")
        self.assertFalse(self.env["smart_dairy.report.request"].with_user(other).search([]))
        self.assertIn(self.request, self.env["smart_dairy.report.request"].search([]))

    def test_period_must_be_in_order(self):
        with self.assertRaises(ValidationError):
            self.request.write({"date_to": "2026-10-01"})

    def test_every_question_of_the_bridge_api_is_answered_and_only_to_the_bridge(self):
        from celery_bridge.core import bridge_api

        for name in sorted(bridge_api.QUESTIONS):
            method = getattr(self.env[bridge_api.BRIDGE_MODEL].with_user(self.clerk), name)
            with self.assertRaises(AccessError, msg=name):
                method(*{"bridge_heartbeat": [{"hostname": "w"}], "cleanup_batch": ["u", "jobs", 1],
                         "notify_critical": [[]], "daily_report_recipients": ["u"]}[name])
