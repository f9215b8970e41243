import json

from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import errors

from .common import SmartDairyJobsCase

AT = "2026-11-21 08:00:00"


class TestRetryPolicy(SmartDairyJobsCase):
    """The task type's retry policy is data, seeded with B-009's numbers, and the write-back follows it."""

    def attempt_fails(self, job, error_type, **extra):
        attempt = job.attempt + 1
        job.sudo().write({"state": "enqueued", "attempt": attempt})
        self.report({"uuid": job.uuid, "attempt": attempt, "state": "started"},
                    dict({"uuid": job.uuid, "attempt": attempt, "state": "failure", "error_type": error_type,
                          "error_message": f"{error_type} happened", "at": AT}, **extra))

    def waited(self, job):
        return json.loads(job.attempt_log)[-1].get("delay")

    def test_new_task_types_get_the_specs_defaults(self):
        task = self.env["smart_dairy.job.task"].new({"name": "x", "queue_id": self.env.ref(
            "smart_dairy_jobs.queue_celery").id})
        # B-009 §2.2: task_max_retries 3, task_default_retry_delay 60, task_retry_backoff, backoff_max 600.
        self.assertEqual((task.max_retries, task.retry_backoff_base, task.retry_backoff, task.retry_backoff_max),
                         (3, 60.0, True, 600.0))

    def test_this_addons_task_types_carry_the_specs_numbers(self):
        def policy(xmlid):
            task = self.env.ref(f"smart_dairy_jobs.{xmlid}")
            return task.max_retries, task.retry_backoff_base, task.retry_backoff, task.retry_backoff_max

        for xmlid in ("task_health_fail", "task_maintenance_cleanup_old_data", "task_maintenance_backup_database",
                      "task_sync_sync_inventory"):
            self.assertEqual(policy(xmlid), (3, 60.0, True, 600.0), xmlid)  # §3.1 Data Sync: 3
        for xmlid in ("task_image_process_image", "task_report_generate_monthly_invoices"):
            self.assertEqual(policy(xmlid), (2, 60.0, True, 600.0), xmlid)  # §3.1 Image, Report: 2
        self.assertEqual(policy("task_payment_check_upcoming_renewals"), (10, 30.0, True, 600.0))  # §3.2 payments

    def test_an_unknown_error_is_retried_three_times_with_backoff_then_dead_lettered(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        for retries_done in range(3):
            self.attempt_fails(job, errors.INTERNAL)
            self.assertEqual((job.state, job.retry_count), ("retry", retries_done + 1))
            self.assertLessEqual(self.waited(job), 60.0 * 2 ** retries_done)  # full jitter under 60, 120, 240
            self.assertFalse(job.dead_letter_ids)
        self.attempt_fails(job, errors.INTERNAL)
        self.assertEqual((job.state, job.retry_count, len(job.dead_letter_ids)), ("failure", 3, 1))

    def test_retry_after_wins_and_is_capped_at_the_backoff_cap(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        self.attempt_fails(job, errors.NETWORK_TIMEOUT, retry_after=42)
        self.assertEqual(str(job.eta), "2026-11-21 08:00:42")
        self.attempt_fails(job, errors.RATE_LIMITED, retry_after=86400)
        self.assertEqual(str(job.eta), "2026-11-21 08:10:00")  # the task type's 600 s cap

    def test_deferrals_do_not_eat_the_retry_budget(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        for _ in range(5):  # an open circuit defers the job, attempt after attempt
            attempt = job.attempt + 1
            job.sudo().write({"state": "enqueued", "attempt": attempt})
            self.report({"uuid": job.uuid, "attempt": attempt, "state": "retry", "retry_in": 60,
                         "deferred_reason": "circuit open for smtp"})
        self.assertEqual((job.state, job.retry_count), ("retry", 0))
        for _ in range(3):
            self.attempt_fails(job, errors.NETWORK_TIMEOUT)
            self.assertEqual(job.state, "retry")
        self.attempt_fails(job, errors.NETWORK_TIMEOUT)
        self.assertEqual((job.state, job.retry_count, job.attempt), ("failure", 3, 9))

    def test_a_task_type_may_not_back_off_exponentially(self):
        task = self.env.ref("smart_dairy_jobs.task_health_fail")
        task.write({"retry_backoff": False, "retry_backoff_base": 20.0})
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        for _ in range(3):
            self.attempt_fails(job, errors.NETWORK_TIMEOUT)
            self.assertEqual((job.state, self.waited(job), str(job.eta)), ("retry", 20.0, "2026-11-21 08:00:20"))

    def test_the_external_service_may_name_an_argument_of_the_task(self):
        task = self.env.ref("smart_dairy_jobs.task_health_fail")
        task.with_user(self.jobs_manager).write({"external_service": "diagnostic.{error_type}"})
        self.assertEqual(task.external_service, "diagnostic.{error_type}")
        for bad in ("diagnostic.{gateway}", "diagnostic.{error_type!r}", "Diagnostic", "two words", "x.{"):
            with self.assertRaises(ValidationError, msg=bad):
                task.with_user(self.jobs_manager).write({"external_service": bad})
            self.assertEqual(task.external_service, "diagnostic.{error_type}", "nothing written")

    def test_only_jobs_managers_change_the_retry_policy(self):
        task = self.env.ref("smart_dairy_jobs.task_health_fail")
        with self.assertRaises(AccessError):
            task.with_user(self.jobs_user).write({"max_retries": 50})
        self.assertEqual(task.max_retries, 3)
