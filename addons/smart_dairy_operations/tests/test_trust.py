"""Issue 12 (Trust) for payments, notifications and reports: two companies, every refusal asserts the
fault and that nothing was written."""
import json
from datetime import datetime

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user

from celery_bridge.core import errors, limits
from celery_bridge.odoo_db import reports

from .common import OperationsCase

OPS_TASKS = ("smart_dairy.email.send_email", "smart_dairy.email.send_email_batch", "smart_dairy.email.send_bulk_emails",
             "smart_dairy.sms.send_sms", "smart_dairy.report.generate_report", "smart_dairy.report.send_daily_reports",
             "smart_dairy.payment.process_payment")


class TrustCase(OperationsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Trust Farm B"})
        cls.clerk.write({"company_ids": [Command.link(cls.company_a.id)], "company_id": cls.company_a.id})
        cls.clerk_b = new_test_user(cls.env, "ops_clerk_b", groups="smart_dairy_operations.group_user",
                                    email="clerk.b@farm.example", company_id=cls.company_b.id,
                                    company_ids=[Command.set(cls.company_b.ids)])
        cls.manager_a = new_test_user(cls.env, "iot_manager_a", groups="smart_dairy_iot.group_manager",
                                      email="manager.a@farm.example", company_id=cls.company_a.id,
                                      company_ids=[Command.set(cls.company_a.ids)])
        cls.manager_b = new_test_user(cls.env, "iot_manager_b", groups="smart_dairy_iot.group_manager",
                                      email="manager.b@farm.example", company_id=cls.company_b.id,
                                      company_ids=[Command.set(cls.company_b.ids)])
        cls.customer = cls.env["res.partner"].create({"name": "Karim", "email": "karim@farm.example"})

    def counts(self):
        env = self.env
        return {
            "payments": env["smart_dairy.payment"].sudo().search_count([]),
            "jobs": env["smart_dairy.job"].sudo().with_context(active_test=False).search_count([]),
            "logs": env["smart_dairy.notification.log"].sudo().search_count([]),
            "requests": env["smart_dairy.report.request"].sudo().search_count([]),
        }

    def assertRefused(self, exception, call, regex=None):
        """``call`` fails with ``exception`` (and ``regex`` in its message) and writes nothing."""
        before = self.counts()
        if regex:
            with self.assertRaisesRegex(exception, regex):
                call()
        else:
            with self.assertRaises(exception):
                call()
        self.assertEqual(self.counts(), before)

    def new_payment(self, user=None, **vals):
        return self.env["smart_dairy.payment"].with_user(user or self.clerk).create(dict({
            "partner_id": self.customer.id, "gateway": "bkash", "payer_number": "01711000000", "amount": 500.0},
            **vals))


class TestPaymentTrust(TrustCase):
    def test_only_the_gateway_makes_a_payment_paid(self):
        payment = self.new_payment()
        for vals in ({"state": "paid"}, {"state": "paid", "transaction_id": "TX-FORGED"}, {"transaction_id": "X"},
                     {"gateway_message": "ok"}, {"job_id": False}, {"name": "PAY-2026-99999"}):
            self.assertRefused(AccessError, lambda v=vals: payment.with_user(self.clerk).write(v))
        self.assertEqual((payment.state, payment.transaction_id), ("draft", False))
        for vals in ({"state": "paid"}, {"transaction_id": "TX-FORGED"}, {"state": "processing"}):
            self.assertRefused(AccessError, lambda v=vals: self.new_payment(**v))
        # The gateway's answer, through the job, does it.
        payment.with_user(self.clerk).action_process()
        self.succeed(payment.job_id, {"status": "completed", "transaction_id": "TX1", "reference": payment.name})
        self.assertEqual((payment.state, payment.transaction_id), ("paid", "TX1"))

    def test_bad_payment_values_are_clean_faults(self):
        for vals in ({"amount": "abc"}, {"amount": -5}, {"amount": 0}, {"amount": float("inf")},
                     {"amount": float("nan")}, {"amount": 10**13}, {"amount": True}, {"gateway": "paypal"},
                     {"gateway": ["bkash"]}, {"payer_number": "not a phone"}, {"payer_number": {"a": 1}},
                     {"payer_number": ""}, {"name": "x" * 500}, {"name": {"a": 1}}):
            self.assertRefused(ValidationError, lambda v=vals: self.new_payment(**v))
        payment = self.new_payment()
        for vals in ({"amount": "abc"}, {"amount": -1}, {"gateway": "paypal"}, {"payer_number": "12"}):
            self.assertRefused(ValidationError, lambda v=vals: payment.with_user(self.clerk).write(v))
        self.assertEqual(payment.amount, 500.0)

    def test_a_reference_is_never_shared_across_companies(self):
        payment = self.new_payment()
        self.assertRefused(ValidationError, lambda: self.new_payment(
            user=self.clerk_b, name=payment.name, company_id=self.company_b.id), "already used")

    def test_process_payment_checks_rights_company_and_ids(self):
        payment = self.new_payment()
        Payment = self.env["smart_dairy.payment"]
        # Another company's clerk: the record rule refuses, nothing is dispatched.
        self.assertRefused(AccessError, lambda: Payment.with_user(self.clerk_b).process_payment([payment.id]))
        for bad in ("x", [], ["1"], [True], [0], [2**40], [payment.id + 10**6], list(range(1, 200)), None,
                    {"id": payment.id}):
            self.assertRefused(ValidationError, lambda b=bad: Payment.with_user(self.clerk).process_payment(b))
        [answer] = Payment.with_user(self.clerk).process_payment([payment.id])
        job = payment.job_id
        self.assertEqual(answer, {"id": payment.id, "reference": payment.name, "job_id": job.id})
        self.assertEqual((job.user_id, job.company_id), (self.clerk, self.company_a))
        self.assertTrue(job.idempotency_key.startswith(f"company-{self.company_a.id}:{job.task_name}:"))
        # One charge per reference: a second call is refused and dispatches nothing.
        self.assertRefused(UserError, lambda: Payment.with_user(self.clerk).process_payment([payment.id]))
        # The same key asked directly gives the same job.
        again = self.env["smart_dairy.job"].with_user(self.clerk).dispatch(
            "smart_dairy.payment.process_payment", kwargs=json.loads(job.sudo().kwargs_json),
            idempotency_key=f"payment:{payment.name}:0")
        self.assertEqual(again, job)

    def test_the_confirmation_mail_goes_out_for_the_payments_user_not_the_bridge(self):
        payment = self.new_payment()
        payment.with_user(self.clerk).action_process()
        self.succeed(payment.job_id, {"status": "completed", "transaction_id": "TX9", "reference": payment.name})
        mail = self.Job.sudo().search([("task_name", "=", "smart_dairy.email.send_email"),
                                       ("res_model", "=", "smart_dairy.payment"), ("res_id", "=", payment.id)])
        self.assertEqual((len(mail), mail.user_id, mail.company_id), (1, self.clerk, self.company_a))


class TestNotificationTrust(TrustCase):
    def test_bad_recipients_and_templates_are_refused_at_dispatch(self):
        Notification = self.env["smart_dairy.notification"].with_user(self.clerk)
        ok = "karim@farm.example"
        cases = [
            (lambda: Notification.send_email("@", subject="s", body_html="<p>b</p>"), "not an email address"),
            (lambda: Notification.send_email("a@farm.example\r\nBcc: x@evil.example", subject="s", body_html="b"),
             "not an email address"),
            (lambda: Notification.send_email({"to": ok}, subject="s", body_html="b"), "not an email address"),
            (lambda: Notification.send_email(ok, template="no_such_template"), "Unknown mail template"),
            (lambda: Notification.send_email(ok, template="daily_report", values={}), "needs values for"),
            (lambda: Notification.send_email(ok, template="daily_report", values="x"), "mapping"),
            (lambda: Notification.send_sms("", "hi"), "not a phone number"),
            (lambda: Notification.send_sms({"to": "01711000000"}, "hi"), "not a phone number"),
            (lambda: Notification.send_bulk_emails([ok, "@"], subject="s", body_html="b"), "Not email addresses"),
            (lambda: Notification.send_bulk_emails([ok, "b@farm.example\nBcc: x@evil.example"], subject="s",
                                                   body_html="b"), "Not email addresses"),
            (lambda: Notification.send_bulk_emails([ok, 5], subject="s", body_html="b"), "Not email addresses"),
            (lambda: Notification.send_bulk_emails("a@farm.example", subject="s", body_html="b"), "list of 1"),
            (lambda: Notification.send_bulk_emails([ok] * (limits.MAX_DISPATCH_MANY * 100 + 1), subject="s",
                                                   body_html="b"), "list of 1"),
        ]
        for call, regex in cases:
            self.assertRefused(ValidationError, call, regex)

    def test_mail_templates_render_only_records_the_caller_may_read(self):
        partner_a = self.env["res.partner"].create({"name": "A's customer", "email": "a.customer@farm.example",
                                                    "company_id": self.company_a.id})
        template = self.env["mail.template"].create({
            "name": "Trust", "model_id": self.env.ref("base.model_res_partner").id,
            "subject": "Hello {{ object.name }}", "body_html": "<p>Hi</p>", "email_to": "{{ object.email }}"})
        Notification = self.env["smart_dairy.notification"]
        self.assertRefused(AccessError, lambda: Notification.with_user(self.clerk_b).send_mail_template(
            template.id, [partner_a.id]))
        for bad_ids in ([], "1", [True], ["1"], [0], [partner_a.id + 10**6], list(range(1, 150)), {"a": 1}):
            self.assertRefused(ValidationError, lambda b=bad_ids: Notification.with_user(self.clerk).send_mail_template(
                template.id, b))
        for bad_template in ("no_module.no_such_template", 0, -1, None, [template.id], "base.main_company"):
            self.assertRefused(ValidationError, lambda t=bad_template: Notification.with_user(
                self.clerk).send_mail_template(t, [partner_a.id]), "No such mail template")
        jobs = Notification.with_user(self.clerk).send_mail_template(template.id, [partner_a.id])
        self.assertEqual((len(jobs), jobs.user_id, jobs.company_id), (1, self.clerk, self.company_a))

    def test_the_notification_log_is_written_by_jobs_only(self):
        Log = self.env["smart_dairy.notification.log"]
        job = self.Job.with_user(self.clerk).dispatch(
            "smart_dairy.email.send_email", kwargs={"to": "karim@farm.example", "subject": "s", "body_html": "b"})
        self.succeed(job, {"outcomes": [{"recipient": "karim@farm.example", "outcome": "sent",
                                         "message_id": "<m@x>"}], "template": "", "subject": "s"})
        line = Log.search([("job_id", "=", job.id)])
        self.assertEqual(line.outcome, "sent")
        ops_manager = new_test_user(self.env, "ops_manager_log", groups="smart_dairy_operations.group_manager")
        for user in (self.clerk, ops_manager):
            self.assertRefused(AccessError, lambda u=user: line.with_user(u).write({"outcome": "failed"}))
            self.assertRefused(AccessError, lambda u=user: Log.with_user(u).create({
                "channel": "email", "recipient": "x@farm.example", "outcome": "sent"}))

    def test_operations_task_types_name_who_may_dispatch_them(self):
        Task = self.env["smart_dairy.job.task"].with_context(active_test=False)
        expected = self.env.ref("smart_dairy_operations.group_user") | self.env.ref("smart_dairy_jobs.group_user")
        for name in OPS_TASKS:
            task = Task.search([("name", "=", name)])
            self.assertEqual(task.group_ids, expected, name)
        # Someone outside those groups (an IoT-less portal-like internal user) may not send mail.
        outsider = new_test_user(self.env, "no_jobs_user", groups="base.group_user")
        self.assertRefused(AccessError, lambda: self.env["smart_dairy.notification"].with_user(outsider).send_email(
            "karim@farm.example", subject="s", body_html="b"))


class TestReportTrust(TrustCase):
    def make_device_with_milk(self, company, code, litres):
        device = self.env["smart_dairy.iot.device"].sudo().create({
            "name": f"Meter {code}", "device_code": code, "device_type": "milk_meter", "company_id": company.id})
        # sudo: readings are the ingestion's (protected); the test stands in for it.
        self.env["smart_dairy.iot.reading"].sudo().create({
            "device_id": device.id, "company_id": company.id, "timestamp": datetime(2026, 11, 10, 6, 0),
            "metric": "milk_yield", "value": litres})
        return device

    def test_a_report_job_of_company_b_shows_only_b(self):
        self.make_device_with_milk(self.company_a, "TRUST-A-1", 111.0)
        self.make_device_with_milk(self.company_b, "TRUST-B-1", 222.0)
        self.Job.with_user(self.clerk).dispatch("smart_dairy.sms.send_sms", kwargs={"to": "01711000000", "text": "a"})
        self.Job.with_user(self.clerk_b).dispatch("smart_dairy.email.send_email", kwargs={
            "to": "b@farm.example", "subject": "s", "body_html": "b"})
        self.env.flush_all()
        start, end = datetime(2026, 11, 1), datetime(2100, 1, 1)
        # The worker's code path (build_report's query), for a job of company B by B's clerk.
        milk = reports.report_rows(self.env.cr, "milk_production", start, end, "Asia/Dhaka", self.company_b.id,
                                   self.clerk_b.id)
        self.assertEqual([(row[2], row[3]) for row in milk], [("TRUST-B-1", 222.0)])
        stats = reports.report_rows(self.env.cr, "job_statistics", start, end, "Asia/Dhaka", self.company_b.id,
                                    self.clerk_b.id)
        jobs_b = self.Job.sudo().search_count([("company_id", "=", self.company_b.id), ("is_parent", "=", False)])
        self.assertEqual(sum(row[2] for row in stats), jobs_b)
        self.assertNotIn("smart_dairy.sms.send_sms", [row[0] for row in stats])
        # A user who is not in the job's company sees nothing of it; a job without company, nothing at all.
        with self.assertRaises(errors.PermissionDenied):
            reports.report_rows(self.env.cr, "milk_production", start, end, "Asia/Dhaka", self.company_b.id,
                                self.clerk.id)
        with self.assertRaises(errors.PermissionDenied):
            reports.report_rows(self.env.cr, "milk_production", start, end, "Asia/Dhaka", None, None)

    def test_daily_report_recipients_are_the_jobs_company_managers(self):
        Request = self.env["smart_dairy.job.bridge"]  # the bridge API's question
        job_b = self.Job.with_company(self.company_b).dispatch("smart_dairy.report.send_daily_reports")
        self.assertEqual(job_b.company_id, self.company_b)
        self.assertEqual(Request.with_user(self.bridge).daily_report_recipients(job_b.uuid),
                         ["manager.b@farm.example"])
        job_a = self.Job.dispatch("smart_dairy.report.send_daily_reports")
        recipients_a = Request.with_user(self.bridge).daily_report_recipients(job_a.uuid)
        self.assertIn("manager.a@farm.example", recipients_a)
        self.assertNotIn("manager.b@farm.example", recipients_a)
        other = self.Job.with_user(self.clerk).dispatch("smart_dairy.sms.send_sms",
                                                        kwargs={"to": "01711000000", "text": "a"})
        for bad in ("no-such-uuid", other.uuid, None, 5, "x" * 100):
            self.assertRefused(ValidationError, lambda b=bad: Request.with_user(self.bridge).daily_report_recipients(b))
        self.assertRefused(AccessError, lambda: Request.with_user(self.clerk).daily_report_recipients(job_b.uuid))

    def test_report_requests_run_for_their_requester_and_keep_their_fields(self):
        request = self.env["smart_dairy.report.request"].with_user(self.clerk).create({
            "report_type": "milk_production", "date_from": "2026-11-01", "date_to": "2026-11-20"})
        for vals in ({"state": "done"}, {"job_id": False}, {"attachment_id": False}, {"error": "x"},
                     {"user_id": self.clerk_b.id}):
            self.assertRefused(AccessError, lambda v=vals: request.with_user(self.clerk).write(v))
        self.assertRefused(AccessError, lambda: self.env["smart_dairy.report.request"].with_user(self.clerk).create({
            "report_type": "milk_production", "date_from": "2026-11-01", "date_to": "2026-11-20",
            "user_id": self.clerk_b.id}))
        self.assertRefused(AccessError, lambda: self.env["smart_dairy.report.request"].with_user(self.clerk).create({
            "report_type": "milk_production", "date_from": "2026-11-01", "date_to": "2026-11-20", "state": "done"}))
        # Another company's clerk cannot start it.
        self.assertRefused(AccessError, lambda: request.with_user(self.clerk_b).action_generate())
        # A manager who presses the button starts it for the requester, not for themself nor as superuser.
        request.with_user(self.env.ref("base.user_admin")).action_generate()
        job = request.job_id
        self.assertEqual((job.user_id, job.company_id), (self.clerk, self.company_a))
        self.assertNotIn("user_id", json.loads(job.sudo().kwargs_json))
        # The ready mail goes out for the job's user, not the bridge.
        self.start(job)
        self.report(job, "failure", error_type="time_limit", error_message="SoftTimeLimitExceeded()")
        for _attempt in range(5):  # whatever the retry policy for time limits, it ends in failure
            if job.state != "retry":
                break
            self.start(job)
            self.report(job, "failure", error_type="time_limit", error_message="SoftTimeLimitExceeded()")
        mail = self.Job.sudo().search([("task_name", "=", "smart_dairy.email.send_email"),
                                       ("res_model", "=", "smart_dairy.report.request"), ("res_id", "=", request.id)])
        self.assertEqual((len(mail), mail.user_id, mail.company_id), (1, self.clerk, self.company_a))
