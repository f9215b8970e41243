import json

from odoo.exceptions import ValidationError

from .common import OperationsCase

DAILY = {"report_date": "2026-11-20", "litres": "1,204.5", "devices": 12}


class TestNotifications(OperationsCase):
    def logs(self, job):
        return self.env["smart_dairy.notification.log"].search([("job_id", "=", job.id)])

    def test_a_sent_mail_is_logged_from_the_job_result(self):
        job = self.env["smart_dairy.notification"].send_email(
            "owner@farm.example", template="daily_report", values=DAILY)
        self.assertEqual((job.task_name, job.queue_id.name), ("smart_dairy.email.send_email", "celery:email"))
        self.assertEqual(job.task_type_id.rate_limit, "100/m")
        self.succeed(job, {"outcomes": [{"recipient": "owner@farm.example", "outcome": "sent",
                                         "message_id": "<m1@farm>"}], "template": "daily_report",
                           "subject": "Smart Dairy daily report for 2026-11-20"})
        log = self.logs(job)
        self.assertEqual((log.recipient, log.outcome, log.template, log.message_id, log.channel),
                         ("owner@farm.example", "sent", "daily_report", "<m1@farm>", "email"))

    def test_a_refused_recipient_is_not_retried_and_logged_refused(self):
        job = self.env["smart_dairy.notification"].send_email(
            "gone@farm.example", subject="Hello", body_html="<p>Hi</p>")
        self.fail_for_good(job, "validation", "Refused: recipient gone@farm.example: refused with 550")
        self.assertEqual(job.retry_count, 0)
        self.assertEqual((self.logs(job).outcome, self.logs(job).recipient), ("refused", "gone@farm.example"))

    def test_a_transient_smtp_error_is_retried(self):
        job = self.env["smart_dairy.notification"].send_email("a@farm.example", subject="S", body_html="<p>B</p>")
        self.start(job)
        self.report(job, "failure", error_type="network_timeout", error_message="451")
        self.assertEqual((job.state, job.retry_count), ("retry", 1))
        self.assertFalse(self.logs(job))

    def test_bad_input_is_refused_at_dispatch(self):
        Notification = self.env["smart_dairy.notification"]
        with self.assertRaises(ValidationError):
            Notification.send_email("not-an-address", template="daily_report", values=DAILY)
        with self.assertRaisesRegex(ValidationError, "needs values for: devices, litres"):
            Notification.send_email("a@farm.example", template="daily_report", values={"report_date": "x"})
        with self.assertRaises(ValidationError):
            Notification.send_email("a@farm.example", template="no_such_template")
        with self.assertRaises(ValidationError):
            Notification.send_bulk_emails([])
        with self.assertRaises(ValidationError):
            Notification.send_sms("+8801711000000", " ")

    def test_odoo_mail_template_is_rendered_here_and_sent_by_a_job(self):
        partner = self.env["res.partner"].create({"name": "Rahim Dairy", "email": "rahim@farm.example"})
        template = self.env["mail.template"].create({
            "name": "Welcome", "model_id": self.env["ir.model"]._get_id("res.partner"),
            "subject": "Welcome {{ object.name }}", "email_to": "{{ object.email }}",
            "body_html": "<p>Dear <t t-out='object.name'/>, welcome.</p>",
        })
        job = self.env["smart_dairy.notification"].send_mail_template(template, partner.ids)
        kwargs = self.kwargs(job)
        self.assertEqual((kwargs["to"], kwargs["subject"]), ("rahim@farm.example", "Welcome Rahim Dairy"))
        self.assertIn("Dear Rahim Dairy, welcome.", kwargs["body_html"])
        self.assertEqual((job.res_model, job.res_id), ("res.partner", partner.id))

    def test_sms_log_masks_the_number(self):
        job = self.env["smart_dairy.notification"].send_sms("+8801711223344", "Your milk was collected")
        for _attempt in range(4):  # the first try and 3 retries
            self.start(job)
            self.report(job, "failure", error_type="network_timeout", error_message="provider down")
        self.assertEqual((job.state, job.retry_count), ("failure", 3))
        log = self.logs(job)
        self.assertEqual((log.channel, log.outcome), ("sms", "failed"))
        self.assertNotIn("1711223344", log.recipient)


class TestBulkEmails(OperationsCase):
    def test_a_bulk_mailing_is_a_parent_with_chunks_of_100(self):
        recipients = [f"farmer{i}@farm.example" for i in range(250)]
        parent = self.env["smart_dairy.notification"].send_bulk_emails(
            recipients, template="daily_report", values=DAILY)
        chunks = parent.child_ids.sorted("id")
        self.assertEqual((parent.is_parent, parent.state, parent.chunk_count, len(chunks)), (True, "started", 3, 3))
        self.assertEqual([len(json.loads(c.sudo().args_json)[0]) for c in chunks], [100, 100, 50])
        self.assertEqual(set(chunks.mapped("task_name")), {"smart_dairy.email.send_email_batch"})
        for index, chunk in enumerate(chunks, start=1):
            batch = json.loads(chunk.sudo().args_json)[0]
            self.succeed(chunk, {"outcomes": [{"recipient": r, "outcome": "refused" if r == "farmer7@farm.example"
                                               else "sent", "message_id": f"<{r}>"} for r in batch],
                                 "template": "daily_report", "subject": "Daily"})
            parent.invalidate_recordset()
            self.assertEqual(parent.chunks_done, index)
            self.assertEqual(parent.progress, int(100 * index / 3))
        self.assertEqual(parent.state, "success")
        result = parent._result()
        self.assertEqual((result["chunks"], result["failed_chunks"], len(result["outcomes"])), (3, 0, 250))
        logs = self.env["smart_dairy.notification.log"].search([("job_id", "in", chunks.ids)])
        self.assertEqual((len(logs), len(logs.filtered(lambda l: l.outcome == "refused"))), (250, 1))

    def test_a_failed_chunk_fails_the_parent_without_a_second_dead_letter(self):
        parent = self.env["smart_dairy.notification"].send_bulk_emails(
            [f"f{i}@farm.example" for i in range(150)], subject="News", body_html="<p>News</p>")
        first, second = parent.child_ids.sorted("id")
        self.succeed(first, {"outcomes": [], "template": "", "subject": "News"})
        self.fail_for_good(second, "validation", "bad template")
        parent.invalidate_recordset()
        self.assertEqual(parent.state, "failure")
        self.assertIn("1 of 2 chunks failed", parent.error_message)
        self.assertTrue(second.dead_letter_ids)
        self.assertFalse(parent.dead_letter_ids)

    def test_cancelling_a_bulk_mailing_cancels_its_waiting_chunks(self):
        parent = self.env["smart_dairy.notification"].send_bulk_emails(
            [f"c{i}@farm.example" for i in range(250)], subject="News", body_html="<p>News</p>")
        first, second, third = parent.child_ids.sorted("id")
        self.succeed(first, {"outcomes": [], "template": "", "subject": "News"})
        parent.action_cancel()
        self.assertEqual((parent.state, second.state, third.state, first.state),
                         ("cancelled", "cancelled", "cancelled", "success"))
