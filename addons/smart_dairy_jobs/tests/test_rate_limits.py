"""A task type's rate limit: one parser (celery_bridge.core.rates) for Odoo and the workers, refused with a
clean fault when it does not read, and said on the form to hold for all workers together."""
from odoo.exceptions import AccessError, ValidationError

from .common import SmartDairyJobsCase


class TestRateLimit(SmartDairyJobsCase):
    def setUp(self):
        super().setUp()
        self.task = self.env.ref("smart_dairy_jobs.task_health_ping")
        self.task.rate_limit = "10/m"

    def assert_refused(self, user, value, fault):
        with self.assertRaises(fault), self.env.cr.savepoint():
            self.task.with_user(user).write({"rate_limit": value})
        self.task.invalidate_recordset()
        self.assertEqual(self.task.rate_limit, "10/m", "nothing was written")

    def test_what_the_workers_could_not_read_is_refused_and_nothing_written(self):
        for value in ("fast", "0/m", "10001/s", "100/d"):
            self.assert_refused(self.jobs_manager, value, ValidationError)

    def test_rates_the_workers_read_are_kept_as_written(self):
        for value in ("100/m", "10/s", "500/h", "0.5/m"):
            self.task.with_user(self.jobs_manager).rate_limit = value
            self.assertEqual(self.task.rate_limit, value)
        self.task.with_user(self.jobs_manager).rate_limit = False

    def test_only_jobs_managers_change_a_limit(self):
        self.assert_refused(self.jobs_user, "1/m", AccessError)

    def test_the_form_says_the_limit_is_the_whole_dairys(self):
        field = self.env["smart_dairy.job.task"]._fields["rate_limit"]
        self.assertIn("all workers", field.string)
        self.assertIn("whole dairy", field.help)
        form = self.env["smart_dairy.job.task"].get_view(view_type="form")["arch"]
        self.assertIn('name="rate_limit"', form)
