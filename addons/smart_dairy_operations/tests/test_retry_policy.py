import json
from datetime import timedelta

from odoo import fields

from celery_bridge.core import errors

from .common import OperationsCase

AT = "2026-11-21 08:00:00"


class TestRetryPolicy(OperationsCase):
    """B-009 §3.1/§3.2 as this addon seeds them, and the write-back (settle_failures) following them."""

    def task(self, name):
        return self.env["smart_dairy.job.task"].search([("name", "=", name)])

    def attempt_fails(self, job, error_type, **extra):
        self.start(job)
        self.report(job, "failure", error_type=error_type, error_message=f"{error_type} happened", at=AT, **extra)

    def wait(self, job):
        return (job.eta - fields.Datetime.to_datetime(AT)).total_seconds()

    def test_the_seeded_task_types_carry_the_specs_numbers(self):
        def policy(name):
            task = self.task(name)
            return (task.max_retries, task.retry_backoff_base, task.retry_backoff, task.retry_backoff_max,
                    task.external_service or "")

        # §3.2 send_email: max_retries 3, default_retry_delay 60, retry(countdown=60): a fixed minute.
        self.assertEqual(policy("smart_dairy.email.send_email"), (3, 60.0, False, 600.0, "smtp"))
        self.assertEqual(policy("smart_dairy.email.send_email_batch"), (3, 60.0, False, 600.0, "smtp"))
        self.assertEqual(policy("smart_dairy.sms.send_sms"), (3, 60.0, False, 600.0, "sms"))  # §3.1 SMS: 3
        self.assertEqual(policy("smart_dairy.report.generate_report"), (2, 60.0, True, 600.0, ""))  # §3.1 Report: 2
        self.assertEqual(policy("smart_dairy.report.send_daily_reports"), (2, 60.0, True, 600.0, "smtp"))
        # §3.2 process_payment: max_retries 10, default_retry_delay 30, retry_backoff, backoff_max 600, jitter.
        payment = self.task("smart_dairy.payment.process_payment")
        self.assertEqual(policy(payment.name), (10, 30.0, True, 600.0, "payment.{gateway}"))
        self.assertEqual([(rule.error_type, rule.strategy, rule.max_retries) for rule in payment.retry_rule_ids],
                         [("network_timeout", "backoff", 10)])

    def test_a_circuit_per_service_is_seeded(self):
        circuits = self.env["smart_dairy.job.circuit"].search([])
        seeded = {circuit.service: (circuit.threshold, circuit.recovery_timeout) for circuit in circuits}
        for service in ("smtp", "sms", "payment.bkash", "payment.nagad"):
            self.assertEqual(seeded.get(service), (5, 60.0), service)  # architecture notes: 5 failures, 60 s

    def test_an_sms_is_retried_after_a_fixed_minute_three_times(self):
        job = self.env["smart_dairy.notification"].send_sms("+8801711000000", "Milk collected")
        for retries_done in range(3):
            self.attempt_fails(job, errors.NETWORK_TIMEOUT)
            self.assertEqual((job.state, job.retry_count, self.wait(job)), ("retry", retries_done + 1, 60.0))
        self.attempt_fails(job, errors.NETWORK_TIMEOUT)
        self.assertEqual((job.state, len(job.dead_letter_ids)), ("failure", 1))

    def test_a_providers_retry_after_wins(self):
        job = self.env["smart_dairy.notification"].send_sms("+8801711000000", "Milk collected")
        self.attempt_fails(job, errors.NETWORK_TIMEOUT, retry_after=20)  # a 503 with Retry-After: 20
        self.assertEqual((job.state, self.wait(job)), ("retry", 20.0))
        self.attempt_fails(job, errors.RATE_LIMITED, retry_after=7200)
        self.assertEqual((job.state, self.wait(job)), ("retry", 600.0))  # capped at the task type's 600 s

    def test_a_gateway_that_does_not_answer_is_retried_ten_times_backing_off_from_30_s(self):
        payment = self.env["smart_dairy.payment"].with_user(self.clerk).create({
            "partner_id": self.env["res.partner"].create({"name": "Karim"}).id, "gateway": "nagad",
            "payer_number": "01711000000", "amount": 10})
        payment.action_process()
        job = payment.job_id
        for retries_done in range(10):
            self.attempt_fails(job, errors.NETWORK_TIMEOUT)
            self.assertEqual((job.state, job.retry_count), ("retry", retries_done + 1))
            delay = json.loads(job.attempt_log)[-1]["delay"]
            self.assertLessEqual(delay, min(600.0, 30.0 * 2 ** retries_done))
            self.assertLess(job.eta, fields.Datetime.to_datetime(AT) + timedelta(seconds=601))
        self.attempt_fails(job, errors.NETWORK_TIMEOUT)
        self.assertEqual((job.state, job.retry_count, payment.state), ("failure", 10, "failed"))

    def test_an_unknown_error_of_a_report_is_retried_as_often_as_reports_are(self):
        job = self.Job.with_user(self.clerk).dispatch("smart_dairy.report.generate_report", kwargs={
            "report_type": "job_statistics", "date_from": "2026-11-01", "date_to": "2026-11-20", "format": "csv"})
        for _ in range(2):
            self.attempt_fails(job, errors.INTERNAL)
            self.assertEqual(job.state, "retry")
        self.attempt_fails(job, errors.INTERNAL)
        self.assertEqual((job.state, job.retry_count), ("failure", 2))
