from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, ValidationError

from .common import OperationsCase


class TestCleanup(OperationsCase):
    def make_job(self, state, days_ago, **vals):
        job = self.Job.dispatch("smart_dairy.health.ping")
        job.sudo().write(dict({"state": state, "date_done": fields.Datetime.now() - timedelta(days=days_ago)},
                              **vals))
        return job

    def test_cleanup_removes_exactly_what_it_should(self):
        old_done = self.make_job("success", 100)
        old_failed = self.make_job("failure", 100)
        old_open_dlq = self.make_job("failure", 100)
        recent = self.make_job("success", 10)
        running = self.make_job("started", 100)
        DeadLetter = self.env["smart_dairy.job.dead.letter"].sudo()
        settled, still_open = DeadLetter._create_for_jobs(old_failed | old_open_dlq)
        settled.write({"state": "resolved"})
        self.env.flush_all()
        self.env.cr.execute("UPDATE smart_dairy_job_dead_letter SET write_date = now() - interval '100 days' "
                            "WHERE id IN %s", [tuple((settled | still_open).ids)])
        self.env.invalidate_all()
        cleanup = self.running_cleanup_job()
        Job = self.env["smart_dairy.job.bridge"].with_user(self.bridge)
        self.assertEqual(Job.cleanup_batch(cleanup.uuid, "dead_letters", 90, 1000), 1)
        self.assertEqual(Job.cleanup_batch(cleanup.uuid, "jobs", 90, 1), 1)  # batches: one at a time
        self.assertEqual(Job.cleanup_batch(cleanup.uuid, "jobs", 90, 1000), 1)
        self.assertEqual(Job.cleanup_batch(cleanup.uuid, "jobs", 90, 1000), 0)
        self.assertFalse((old_done | old_failed).exists())
        self.assertEqual((old_open_dlq | recent | running).exists(), old_open_dlq | recent | running)
        self.assertEqual(still_open.exists(), still_open)

    def running_cleanup_job(self):
        """The cleanup job the bridge's cleanup_batch calls run for (they act for its company only)."""
        cleanup = self.Job.dispatch("smart_dairy.maintenance.cleanup_old_data", kwargs={"days_to_keep": 90})
        cleanup.sudo().write({"state": "started", "attempt": 1})
        return cleanup

    def test_cleanup_refuses_others_and_bad_input(self):
        cleanup = self.running_cleanup_job()
        with self.assertRaises(AccessError):
            self.env["smart_dairy.job.bridge"].with_user(self.clerk).cleanup_batch(cleanup.uuid, "jobs", 90, 10)
        for args in ((cleanup.uuid, "everything", 90, 10), (cleanup.uuid, "jobs", 0, 10),
                     (cleanup.uuid, "jobs", 90, 0), ("no-such-job", "jobs", 90, 10)):
            with self.assertRaises(ValidationError):
                self.env["smart_dairy.job.bridge"].with_user(self.bridge).cleanup_batch(*args)

    def test_maintenance_schedules_are_active(self):
        for xml_id, hour in (("smart_dairy_jobs.schedule_cleanup_old_data", 2),
                             ("smart_dairy_jobs.schedule_backup_database", 3),
                             ("smart_dairy_operations.schedule_send_daily_reports", 8)):
            schedule = self.env.ref(xml_id)
            self.assertTrue(schedule.cron_active, xml_id)
            self.assertTrue(schedule.task_type_id.active, xml_id)
