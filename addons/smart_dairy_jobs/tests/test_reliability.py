import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError

from celery_bridge.core import errors

from .common import SmartDairyJobsCase


class TestRetriesAndDeadLetters(SmartDairyJobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fail_task = cls.env.ref("smart_dairy_jobs.task_health_fail")
        cls.fail_task.write({"max_retries": 3, "retry_backoff_base": 4.0, "retry_backoff_max": 600})

    def run_and_fail(self, job, error_type, **extra):
        """One attempt of ``job``: published, started, failed."""
        attempt = job.attempt + 1
        job.sudo().write({"state": "enqueued", "attempt": attempt})
        report = {"uuid": job.uuid, "attempt": attempt, "state": "failure", "error_type": error_type,
                  "error_message": f"{error_type} happened", "at": "2026-11-21 08:00:00"}
        report.update(extra)
        return self.report({"uuid": job.uuid, "attempt": attempt, "state": "started"}, report)

    def test_a_network_timeout_is_retried_with_backoff_then_dead_lettered(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", kwargs={"password": "hunter2", "n": "1"})
        for retries_done in range(3):
            self.run_and_fail(job, errors.NETWORK_TIMEOUT)
            self.assertEqual(job.state, "retry")
            self.assertEqual(job.retry_count, retries_done + 1)
            delay = (job.eta - fields.Datetime.to_datetime("2026-11-21 08:00:00")).total_seconds()
            ceiling = errors.backoff_ceiling(retries_done, self.fail_task._retry_policy())
            self.assertTrue(0 <= delay <= ceiling, f"retry {retries_done + 1} waits {delay}s, over {ceiling}s")
            self.assertFalse(job.dead_letter_ids)
        self.run_and_fail(job, errors.NETWORK_TIMEOUT)
        self.assertEqual((job.state, job.attempt, job.retry_count), ("failure", 4, 3))
        log = json.loads(job.attempt_log)
        self.assertEqual([entry["outcome"] for entry in log], ["retry", "retry", "retry", "failure"])
        entry = job.dead_letter_ids
        self.assertEqual(len(entry), 1)
        self.assertEqual((entry.state, entry.attempts, entry.error_type), ("new", 4, "network_timeout"))
        self.assertNotIn("hunter2", entry.kwargs_display)
        self.assertIn('"n": "1"', entry.kwargs_display)

    def test_a_validation_error_goes_to_the_dead_letter_queue_at_once(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        self.run_and_fail(job, errors.VALIDATION)
        self.assertEqual((job.state, job.retry_count), ("failure", 0))
        self.assertEqual(len(job.dead_letter_ids), 1)

    def test_rate_limits_wait_for_retry_after(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        self.run_and_fail(job, errors.RATE_LIMITED, retry_after=42)
        self.assertEqual(str(job.eta), "2026-11-21 08:00:42")

    def test_task_type_rules_override_the_default_policy(self):
        self.fail_task.write({"retry_rule_ids": [(0, 0, {"error_type": "validation", "strategy": "immediate",
                                                          "max_retries": 1})]})
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        self.run_and_fail(job, errors.VALIDATION)
        self.assertEqual(job.state, "retry")
        self.run_and_fail(job, errors.VALIDATION)
        self.assertEqual(job.state, "failure")

    def test_a_late_report_of_the_failed_attempt_changes_nothing(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        self.run_and_fail(job, errors.NETWORK_TIMEOUT)
        outcome = self.report({"uuid": job.uuid, "attempt": 1, "state": "success", "result": "1"})
        self.assertEqual(outcome[0]["status"], "ignored")
        self.assertEqual(job.state, "retry")


class TestDeadLetterActions(SmartDairyJobsCase):
    def dead_letter(self, **kwargs):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", kwargs=kwargs or {"path": "x"})
        job.sudo().write({"state": "enqueued", "attempt": 1})
        self.report({"uuid": job.uuid, "attempt": 1, "state": "failure", "error_type": "not_found"})
        return job.dead_letter_ids

    def test_requeue_dispatches_a_new_linked_job_with_the_original_arguments(self):
        entry = self.dead_letter(path="cow.csv", token="s3cret")
        with self.assertRaisesRegex(AccessError, "may not start"):
            entry.with_user(self.jobs_manager).action_requeue()  # a requeue is a dispatch by the caller
        entry.with_user(self.sys_admin).action_requeue()
        new_job = entry.requeued_job_id
        self.assertEqual(entry.state, "requeued")
        self.assertEqual(new_job.state, "pending")
        self.assertEqual(new_job.original_job_id, entry.job_id)
        self.assertEqual(new_job.requeued_from_id, entry)
        self.assertEqual(json.loads(new_job.sudo().kwargs_json), {"path": "cow.csv", "token": "s3cret"},
                         "the new job gets the real arguments, not the masked ones")
        with self.assertRaises(UserError):
            entry.with_user(self.sys_admin).action_requeue()

    def test_requeue_many_at_once(self):
        entries = self.dead_letter(path="a") | self.dead_letter(path="b")
        entries.with_user(self.sys_admin).action_requeue()
        self.assertEqual(entries.mapped("state"), ["requeued", "requeued"])
        self.assertEqual(len(entries.requeued_job_id), 2)

    def test_resolve_with_a_note_and_discard(self):
        first, second = self.dead_letter(path="a"), self.dead_letter(path="b")
        wizard = self.env["smart_dairy.job.dead.letter.resolve"].with_user(self.jobs_manager).with_context(
            active_ids=first.ids).create({"note": "paid by hand"})
        wizard.action_resolve()
        self.assertEqual((first.state, first.note), ("resolved", "paid by hand"))
        second.with_user(self.jobs_manager).action_discard()
        self.assertEqual(second.state, "discarded")

    def test_users_see_but_only_managers_handle_dead_letters(self):
        entry = self.dead_letter()
        self.assertEqual(entry.with_user(self.jobs_user).read(["state"])[0]["state"], "new")
        with self.assertRaises(AccessError):
            entry.with_user(self.jobs_user).action_discard()


class TestLeasesAndReaper(SmartDairyJobsCase):
    def started_job(self, task_name="smart_dairy.health.ping"):
        job = self.dispatch_as(self.sys_admin, task_name)
        job.sudo().write({"state": "enqueued", "attempt": 1})
        self.report({"uuid": job.uuid, "attempt": 1, "state": "started"})
        return job

    def test_started_jobs_hold_a_lease_that_heartbeats_extend(self):
        job = self.started_job()
        self.assertGreater(job.lease_expires_at, fields.Datetime.now() + timedelta(seconds=50))
        job.sudo().lease_expires_at = fields.Datetime.now()
        self.report({"uuid": job.uuid, "attempt": 1, "state": "heartbeat"})
        self.assertGreater(job.lease_expires_at, fields.Datetime.now() + timedelta(seconds=50))

    def test_a_job_whose_worker_vanished_is_retried_then_dead_lettered(self):
        job = self.started_job("smart_dairy.health.fail")  # allows 3 retries
        for _ in range(4):
            job.sudo().lease_expires_at = fields.Datetime.now() - timedelta(seconds=1)
            self.Job._cron_reap_stuck_jobs()
            if job.state == "failure":
                break
            self.assertEqual((job.state, job.error_type), ("retry", "worker_lost"))
            job.sudo().write({"state": "enqueued", "attempt": job.attempt + 1})
            self.report({"uuid": job.uuid, "attempt": job.attempt, "state": "started"})
        self.assertEqual((job.state, job.retry_count), ("failure", 3))
        self.assertEqual(job.dead_letter_ids.error_type, "worker_lost")

    def test_a_live_lease_is_left_alone(self):
        job = self.started_job()
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual(job.state, "started")

    def test_jobs_enqueued_for_too_long_are_sent_again(self):
        job = self.dispatch_as(self.jobs_user)
        job.sudo().write({"state": "enqueued", "attempt": 1,
                          "date_enqueued": fields.Datetime.now() - timedelta(seconds=job.task_type_id.enqueued_timeout + 5)})
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual(job.state, "retry")
        self.assertEqual(job.retry_count, 0, "a lost message is not the job's failure")
        self.assertEqual(json.loads(job.attempt_log)[-1]["outcome"], "republished")


class TestCancelAndTerminate(SmartDairyJobsCase):
    def test_managers_terminate_running_jobs_users_cannot(self):
        job = self.dispatch_as(self.jobs_user)
        job.sudo().write({"state": "started", "attempt": 1})
        with self.assertRaises(AccessError):
            job.with_user(self.jobs_user).action_terminate()
        job.with_user(self.jobs_manager).action_terminate()
        self.assertEqual(job.state, "cancelled")
        late = self.report({"uuid": job.uuid, "attempt": 1, "state": "success", "result": "1"})
        self.assertEqual(late[0]["status"], "ignored")
        self.assertEqual(job.state, "cancelled")

    def test_cancel_many_at_once(self):
        jobs = self.dispatch_as(self.jobs_user) | self.dispatch_as(self.jobs_user)
        jobs[1].sudo().write({"state": "enqueued", "attempt": 1})
        jobs.with_user(self.jobs_user).action_cancel()
        self.assertEqual(jobs.mapped("state"), ["cancelled", "cancelled"])
