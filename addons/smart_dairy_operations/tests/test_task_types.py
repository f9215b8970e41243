import pytz

from odoo.tests import new_test_user

from .common import OperationsCase

DHAKA = pytz.timezone("Asia/Dhaka")
PAYMENT_REFERENCE = "PAY/2026/0001"


class TestTaskTypes(OperationsCase):
    """This addon seeds its own task types, schedule and alert (the jobs addon seeds none of them)."""

    def test_spec_limits_per_category(self):
        Task = self.env["smart_dairy.job.task"].with_context(active_test=False)
        payment = Task.search([("name", "=", "smart_dairy.payment.process_payment")])
        report = Task.search([("name", "=", "smart_dairy.report.generate_report")])
        self.assertEqual((payment.time_limit, payment.max_retries, payment.priority), (120, 10, 0))
        self.assertEqual((report.time_limit, report.soft_time_limit, report.max_retries), (3600, 3300, 2))

    def test_the_daily_reports_are_seeded_at_8_in_dhaka_time(self):
        schedule = self.env.ref("smart_dairy_operations.schedule_send_daily_reports")
        local = pytz.utc.localize(schedule.nextcall).astimezone(DHAKA)
        self.assertEqual((local.hour, local.minute, schedule.interval_number, schedule.interval_type),
                         (8, 0, 1, "days"))
        self.assertEqual((schedule.queue_id.name, schedule.user_id, schedule.cron_active),
                         ("celery:report", self.env.ref("base.user_admin"), True))

    def test_payment_failures_alert_the_jobs_managers_at_once(self):
        jobs_user = new_test_user(self.env, login="ops_jobs_user", groups="base.group_user,smart_dairy_jobs.group_user")
        jobs_manager = new_test_user(self.env, login="ops_jobs_manager",
                                     groups="base.group_user,smart_dairy_jobs.group_manager")
        job = self.Job.with_user(jobs_user).dispatch(
            "smart_dairy.payment.process_payment",
            kwargs={"reference": PAYMENT_REFERENCE, "gateway": "bkash", "amount": "7.00"})
        self.fail_for_good(job, "validation", "validation happened")
        entry = job.dead_letter_ids
        alert = entry.message_ids.filtered(lambda message: "failed for good" in (message.body or ""))
        self.assertEqual(len(alert), 1)
        self.assertIn(jobs_manager.partner_id, alert.notification_ids.res_partner_id)
