"""Reports that reach Odoo after the reaper gave up on their attempt, in every order, and jobs a
silent worker held prefetched (celery_bridge.core.jobstate.judge_late_success)."""
import json
from datetime import timedelta

from odoo import fields

from .common import SmartDairyJobsCase


def stamp(moment):
    return fields.Datetime.to_string(moment) + ".000000"


class TestLateReports(SmartDairyJobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A diagnostic without retries (as seeded) and one that retries a lost worker twice.
        cls.no_retry = cls.env.ref("smart_dairy_jobs.task_health_ping")
        cls.retrying = cls.env.ref("smart_dairy_jobs.task_health_touch")
        cls.retrying.write({"max_retries": 2})

    def started(self, task_name="smart_dairy.health.ping", attempt=1, job=None):
        job = job or self.dispatch_as(self.sys_admin, task_name,
                                      kwargs={"path": "late.txt"} if task_name.endswith("touch") else None)
        self.mark_enqueued(job, attempt)
        self.report({"uuid": job.uuid, "attempt": attempt, "state": "started", "at": stamp(fields.Datetime.now())})
        return job

    def reap(self, job):
        """The worker fell silent: its lease ran out a minute ago and the reaper runs."""
        lease_end = fields.Datetime.now() - timedelta(seconds=60)
        job.sudo().lease_expires_at = lease_end
        self.Job._cron_reap_stuck_jobs()
        return lease_end

    def success(self, job, attempt, at, runs=1):
        return self.report({"uuid": job.uuid, "attempt": attempt, "state": "success", "at": stamp(at),
                            "result": json.dumps({"runs": runs}), "runtime": 1.5})

    def test_started_then_reaped_into_the_dead_letters_then_success_settles(self):
        job = self.started()
        lease_end = self.reap(job)
        self.assertEqual((job.state, job.error_type), ("failure", "worker_lost"))
        letter = job.dead_letter_ids
        self.assertEqual(letter.state, "new")
        [outcome] = self.success(job, 1, lease_end - timedelta(seconds=5))
        self.assertEqual(outcome["status"], "applied")
        self.assertEqual((job.state, json.loads(job.result_json), job.error_type), ("success", {"runs": 1}, False))
        self.assertEqual(letter.state, "resolved", "the dead letter is taken out of the open ones, kept on record")
        self.assertIn("late", letter.note)
        self.assertEqual(json.loads(job.attempt_log)[-1]["outcome"], "late_success")

    def test_success_first_then_the_reaper_has_nothing_to_do(self):
        job = self.started()
        self.success(job, 1, fields.Datetime.now())
        job.sudo().lease_expires_at = fields.Datetime.now() - timedelta(seconds=60)  # even so
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual(job.state, "success")
        self.assertFalse(job.dead_letter_ids)

    def test_reaped_into_a_retry_then_success_of_the_old_attempt_settles_and_the_next_reports_are_late(self):
        job = self.started("smart_dairy.health.touch")
        lease_end = self.reap(job)
        self.assertEqual((job.state, job.error_type, job.retry_count), ("retry", "worker_lost", 1))
        self.success(job, 1, lease_end - timedelta(seconds=5))
        self.assertEqual((job.state, json.loads(job.result_json)), ("success", {"runs": 1}))

    def test_reaped_then_sent_again_then_success_of_the_old_attempt_settles(self):
        job = self.started("smart_dairy.health.touch")
        lease_end = self.reap(job)
        self.mark_enqueued(job, 2)  # attempt 2 is on the broker
        self.success(job, 1, lease_end - timedelta(seconds=5))
        self.assertEqual((job.state, job.attempt), ("success", 2))
        # Attempt 2's message finds the claim done: it reports the first result without running,
        # and those reports change nothing.
        outcomes = self.report({"uuid": job.uuid, "attempt": 2, "state": "started"},
                               {"uuid": job.uuid, "attempt": 2, "state": "success", "result": json.dumps({"runs": 1})})
        self.assertEqual([o["status"] for o in outcomes], ["ignored", "ignored"])
        self.assertEqual((job.state, json.loads(job.result_json)), ("success", {"runs": 1}))

    def test_reaped_then_the_next_attempt_started_then_success_of_the_old_attempt_settles(self):
        job = self.started("smart_dairy.health.touch")
        lease_end = self.reap(job)
        self.started(attempt=2, job=job)
        self.success(job, 1, lease_end - timedelta(seconds=5))
        self.assertEqual(job.state, "success")
        self.assertFalse(job.lease_expires_at)

    def test_a_failure_report_after_the_reap_stays_ignored(self):
        job = self.started()
        self.reap(job)
        [outcome] = self.report({"uuid": job.uuid, "attempt": 1, "state": "failure", "error_type": "internal",
                                 "error_message": "late"})
        self.assertEqual(outcome["status"], "ignored")
        self.assertEqual((job.state, job.error_type, job.dead_letter_ids.state), ("failure", "worker_lost", "new"))

    def test_a_success_of_an_attempt_older_than_the_reaped_one_stays_ignored(self):
        job = self.started("smart_dairy.health.touch")
        self.reap(job)
        self.started(attempt=2, job=job)
        lease_end = self.reap(job)
        self.assertEqual((job.state, job.reaped_attempt), ("retry", 2))
        [outcome] = self.success(job, 1, lease_end - timedelta(seconds=90))
        self.assertEqual((outcome["status"], outcome["message"]), ("ignored", "stale_attempt"))
        self.assertEqual(job.state, "retry")

    def test_a_success_that_ended_after_the_lease_stays_ignored(self):
        job = self.started()
        lease_end = self.reap(job)
        [outcome] = self.success(job, 1, lease_end + timedelta(seconds=5))
        self.assertEqual((outcome["status"], outcome["message"]), ("ignored", "lease_expired"))
        self.assertEqual((job.state, job.dead_letter_ids.state), ("failure", "new"))

    def test_late_heartbeats_from_within_the_lease_renew_it_for_a_long_run(self):
        job = self.started()
        lease_end = self.reap(job)
        beats = [{"uuid": job.uuid, "attempt": 1, "state": "heartbeat", "at": stamp(lease_end - timedelta(seconds=1))},
                 {"uuid": job.uuid, "attempt": 1, "state": "heartbeat", "at": stamp(lease_end + timedelta(seconds=30))}]
        self.report(*beats)
        self.assertGreater(job.reaped_lease_end, lease_end + timedelta(seconds=30))
        self.success(job, 1, lease_end + timedelta(seconds=40))
        self.assertEqual(job.state, "success")

    def test_a_requeued_dead_letter_is_left_as_the_manager_left_it(self):
        job = self.started()
        lease_end = self.reap(job)
        letter = job.dead_letter_ids
        letter.with_user(self.sys_admin).action_requeue()
        self.success(job, 1, lease_end - timedelta(seconds=5))
        self.assertEqual((job.state, letter.state), ("success", "requeued"))


class TestJobsHeldBySilentWorkers(SmartDairyJobsCase):
    def heartbeat(self, hostname, jobs, interval=1.0):
        return self.env["smart_dairy.job.bridge"].with_user(self.bridge).bridge_heartbeat(
            {"hostname": hostname, "interval": interval, "jobs": [[job.uuid, job.attempt] for job in jobs]})

    def enqueued(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.touch", kwargs={"path": "held.txt"})
        self.mark_enqueued(job)
        return job

    def silence(self, hostname, seconds):
        worker = self.env["smart_dairy.job.worker"].search([("hostname", "=", hostname)])
        worker.sudo().last_heartbeat = fields.Datetime.now() - timedelta(seconds=seconds)

    def test_the_jobs_a_silent_worker_held_are_sent_again_as_a_new_attempt(self):
        held, other = self.enqueued(), self.enqueued()
        self.heartbeat("w1@dead", held)
        self.heartbeat("w2@alive", other)
        self.assertEqual((held.held_by_worker, held.held_attempt), ("w1@dead", 1))
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual(held.state, "enqueued", "its worker is still online")
        self.silence("w1@dead", 4)  # more than 3 beats of 1 s: the Workers view says offline
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual((held.state, held.retry_count, held.held_by_worker), ("retry", 0, False))
        entry = json.loads(held.attempt_log)[-1]
        self.assertEqual(entry["outcome"], "republished")
        self.assertIn("w1@dead", entry["reason"])
        self.assertEqual(other.state, "enqueued")

    def test_a_started_job_is_no_longer_held_and_an_old_attempts_hold_does_not_count(self):
        started, resent = self.enqueued(), self.enqueued()
        self.heartbeat("w1@dead", started | resent)
        self.report({"uuid": started.uuid, "attempt": 1, "state": "started"})
        self.assertFalse(started.held_by_worker)
        self.mark_enqueued(resent, 2)  # attempt 2 went out meanwhile (another worker will get it)
        self.silence("w1@dead", 60)
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual((started.state, resent.state), ("started", "enqueued"))

    def test_a_heartbeat_naming_jobs_badly_is_refused(self):
        from odoo.exceptions import ValidationError

        for jobs in ("abc", [["uuid"]], [["uuid", "1"]], [[1, 1]], [["u" * 65, 1]]):
            with self.subTest(jobs=jobs), self.assertRaises(ValidationError):
                self.env["smart_dairy.job.bridge"].with_user(self.bridge).bridge_heartbeat(
                    {"hostname": "w@x", "jobs": jobs})
