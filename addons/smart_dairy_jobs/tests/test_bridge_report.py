import json

from odoo.exceptions import AccessError, ValidationError

from .common import SmartDairyJobsCase


class TestBridgeReport(SmartDairyJobsCase):
    def setUp(self):
        super().setUp()
        self.job = self.dispatch_as(self.jobs_user)
        self.mark_enqueued(self.job)

    def started(self, attempt=1, at="2026-11-21 08:00:00.250000"):
        return {"uuid": self.job.uuid, "attempt": attempt, "state": "started", "at": at, "worker": "w1@host"}

    def success(self, attempt=1, result=None):
        return {
            "uuid": self.job.uuid, "attempt": attempt, "state": "success", "at": "2026-11-21 08:00:01.500000",
            "result": json.dumps(result or {"pong": True}), "runtime": 1.25,
        }

    def test_started_then_success_in_one_batch(self):
        outcomes = self.report(self.started(), self.success())
        self.assertEqual([o["status"] for o in outcomes], ["applied", "applied"])
        job = self.job
        self.assertEqual(job.state, "success")
        self.assertEqual(json.loads(job.result_json), {"pong": True})
        self.assertEqual(str(job.date_started), "2026-11-21 08:00:00")
        self.assertEqual(str(job.date_done), "2026-11-21 08:00:01")
        self.assertAlmostEqual(job.duration, 1.25)
        self.assertEqual(job.worker_hostname, "w1@host")
        self.assertEqual(job.progress, 100)

    def test_a_started_arriving_after_success_changes_nothing(self):
        self.report(self.success())
        outcomes = self.report(self.started())
        self.assertEqual(outcomes[0]["status"], "ignored")
        self.assertEqual(outcomes[0]["message"], "out_of_order")
        self.assertEqual(self.job.state, "success")
        self.assertFalse(self.job.date_started)

    def test_a_repeated_success_is_ignored(self):
        self.report(self.success(result={"n": 1}))
        outcomes = self.report(self.success(result={"n": 2}))
        self.assertEqual(outcomes[0]["message"], "duplicate")
        self.assertEqual(json.loads(self.job.result_json), {"n": 1})

    def test_report_for_another_attempt_is_ignored(self):
        outcomes = self.report(self.success(attempt=2))
        self.assertEqual(outcomes[0]["message"], "stale_attempt")
        self.assertEqual(self.job.state, "enqueued")

    def test_report_for_an_unknown_uuid(self):
        outcomes = self.report({"uuid": "00000000-0000-0000-0000-000000000000", "attempt": 1, "state": "success",
                                "result": "1"}, self.started())
        self.assertEqual(outcomes[0]["status"], "unknown")
        self.assertIn("No job with uuid 00000000-0000-0000-0000-000000000000", outcomes[0]["message"])
        self.assertEqual(outcomes[1]["status"], "applied", "one bad report must not hold back the others")

    def test_malformed_reports_are_named_and_skipped(self):
        bad = [
            ("not a dict", "a report must be a dict"),
            ({"uuid": self.job.uuid, "attempt": "1", "state": "success"}, "attempt must be an integer"),
            ({"uuid": self.job.uuid, "attempt": 1, "state": "enqueued"}, "state must be one of"),
            ({"uuid": self.job.uuid, "attempt": 1, "state": "success", "result": "{oops"}, "result is not valid JSON"),
            ({"uuid": self.job.uuid, "attempt": 1, "state": "progress", "progress": 150}, "progress must be"),
            ({"uuid": self.job.uuid, "attempt": 1, "state": "started", "at": "yesterday"}, "at must be a UTC time"),
        ]
        outcomes = self.report(*[report for report, _message in bad])
        for outcome, (_report, message) in zip(outcomes, bad):
            self.assertEqual(outcome["status"], "invalid")
            self.assertIn(message, outcome["message"])
        self.assertEqual(self.job.state, "enqueued")

    def test_reports_must_be_a_list(self):
        with self.assertRaises(ValidationError):
            self.Job.with_user(self.bridge).bridge_report({"uuid": self.job.uuid})

    def test_failure_keeps_the_error(self):
        self.report(self.started(), {
            "uuid": self.job.uuid, "attempt": 1, "state": "failure", "error_type": "validation",
            "error_message": "InvalidInput: no cow 42", "traceback": "Traceback ...",
        })
        self.assertEqual(self.job.state, "failure")
        self.assertEqual(self.job.error_type, "validation")
        self.assertEqual(self.job.error_message, "InvalidInput: no cow 42")

    def test_a_deferral_waits_in_odoo_without_counting_as_a_retry(self):
        self.report({"uuid": self.job.uuid, "attempt": 1, "state": "retry", "retry_in": 30,
                     "at": "2026-11-21 08:00:02", "deferred_reason": "circuit open for bkash"})
        self.assertEqual(self.job.state, "retry")
        self.assertEqual(str(self.job.eta), "2026-11-21 08:00:32")
        self.assertEqual(self.job.retry_count, 0)
        self.assertEqual(json.loads(self.job.attempt_log)[-1]["outcome"], "deferred")

    def test_progress_is_shown_while_running(self):
        self.report(self.started(), {"uuid": self.job.uuid, "attempt": 1, "state": "progress", "progress": 50,
                                     "progress_message": "Generating report..."})
        self.assertEqual((self.job.state, self.job.progress), ("started", 50))
        self.assertEqual(self.job.progress_message, "Generating report...")

    def test_only_the_bridge_may_report(self):
        for user in (self.jobs_user, self.jobs_manager):
            with self.assertRaises(AccessError):
                self.Job.with_user(user).bridge_report([self.success()])
        self.assertEqual(self.job.state, "enqueued")
