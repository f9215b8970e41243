from odoo.exceptions import UserError

from .common import OperationsCase


class TestPayments(OperationsCase):
    def setUp(self):
        super().setUp()
        self.customer = self.env["res.partner"].create({"name": "Karim", "email": "karim@farm.example"})
        self.payment = self.env["smart_dairy.payment"].with_user(self.clerk).create({
            "partner_id": self.customer.id, "gateway": "bkash", "payer_number": "01711000000", "amount": 1250.5})

    def mails_about(self, template):
        jobs = self.Job.sudo().search([("task_name", "=", "smart_dairy.email.send_email"),
                                       ("res_model", "=", "smart_dairy.payment"), ("res_id", "=", self.payment.id)])
        return [self.kwargs(job) for job in jobs if self.kwargs(job).get("template") == template]

    def test_charging_creates_one_critical_job_and_never_a_second(self):
        self.assertTrue(self.payment.name.startswith("PAY-"))
        self.payment.action_process()
        job = self.payment.job_id
        self.assertEqual((self.payment.state, job.task_name, job.queue_id.name, job.priority),
                         ("processing", "smart_dairy.payment.process_payment", "celery:payment", 0))
        self.assertEqual(self.kwargs(job), {"reference": self.payment.name, "gateway": "bkash", "amount": "1250.50",
                                            "currency": "BDT", "payer": "01711000000"})
        self.assertTrue(job.idempotency_key)
        with self.assertRaises(UserError):
            self.payment.action_process()  # a double click
        self.succeed(job, {"status": "completed", "transaction_id": "TX123", "reference": self.payment.name})
        self.assertEqual((self.payment.state, self.payment.transaction_id), ("paid", "TX123"))
        with self.assertRaises(UserError):
            self.payment.action_process()
        [confirmation] = self.mails_about("payment_confirmation")
        self.assertEqual((confirmation["to"], confirmation["context"]["transaction_id"]), ("karim@farm.example", "TX123"))

    def test_a_decline_is_final_and_the_customer_is_told(self):
        self.payment.action_process()
        self.succeed(self.payment.job_id, {"status": "declined", "transaction_id": None,
                                           "message": "Insufficient Balance"})
        self.assertEqual((self.payment.state, self.payment.gateway_message), ("declined", "Insufficient Balance"))
        [mail] = self.mails_about("payment_failed")
        self.assertEqual(mail["context"]["reason"], "Insufficient Balance")

    def test_final_failure_marks_failed_alerts_managers_and_lands_in_the_dlq(self):
        self.payment.action_process()
        job = self.payment.job_id
        self.assertEqual(job.max_retries, 10)
        self.fail_for_good(job, "permission", "bKash refused our credentials")
        self.assertEqual(self.payment.state, "failed")
        entry = job.dead_letter_ids
        self.assertEqual(len(entry), 1)
        managers = self.env.ref("smart_dairy_jobs.group_manager").users.partner_id
        self.assertTrue(managers & entry.message_ids.partner_ids)
        [mail] = self.mails_about("payment_failed")
        self.assertEqual(mail["to"], "karim@farm.example")
        # Trying again is allowed after a failure, with a new job.
        self.payment.with_user(self.clerk).action_process()
        self.assertNotEqual(self.payment.job_id, job)

    def test_gateway_errors_are_retried_with_backoff(self):
        self.payment.action_process()
        job = self.payment.job_id
        self.start(job)
        self.report(job, "failure", error_type="network_timeout", error_message="bKash timed out")
        self.assertEqual((job.state, job.retry_count, self.payment.state), ("retry", 1, "processing"))
        self.assertTrue(job.eta)

    def test_a_cancelled_charge_puts_the_payment_back_to_draft(self):
        self.payment.action_process()
        self.payment.job_id.action_cancel()
        self.assertEqual(self.payment.state, "draft")
        self.payment.action_process()  # and it can be charged again, with a new job
        self.assertEqual(self.payment.state, "processing")
