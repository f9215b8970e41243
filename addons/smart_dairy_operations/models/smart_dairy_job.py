import json

from odoo import models

from celery_bridge.core.scrub import masked_number

# Records that follow one job and act on its outcome: (model, task).
OUTCOME_OWNERS = (("smart_dairy.payment", "smart_dairy.payment.process_payment"),
                  ("smart_dairy.report.request", "smart_dairy.report.generate_report"))
NOTIFICATION_TASKS = ("smart_dairy.email.send_email", "smart_dairy.email.send_email_batch",
                      "smart_dairy.sms.send_sms", "smart_dairy.report.send_daily_reports")


class SmartDairyJob(models.Model):
    _inherit = "smart_dairy.job"

    def _on_finished(self):
        result = super()._on_finished()
        notifications = self.filtered(lambda job: job.task_name in NOTIFICATION_TASKS)
        if notifications:
            self.env["smart_dairy.notification.log"]._create_from_jobs(notifications)
        for model, task_name in OUTCOME_OWNERS:
            jobs = self.filtered(lambda job, m=model, t=task_name: job.res_model == m and job.task_name == t)
            if not jobs:
                continue
            # One read for all the owners: only the record whose current job this is takes the outcome.
            owners = self.env[model].sudo().browse(jobs.mapped("res_id")).exists()
            for owner in owners.filtered(lambda record: record.job_id in jobs):
                owner._apply_job_outcome(owner.job_id)
        return result

    def _result(self):
        try:
            return json.loads(self.result_json or "null")
        except ValueError:
            return None

    def _kwargs(self):
        return json.loads(self.sudo().kwargs_json or "{}")

    def _notification_recipients(self):
        """Who a failed notification job was for (SMS numbers masked)."""
        kwargs = self._kwargs()
        if self.task_name == "smart_dairy.sms.send_sms":
            return [masked_number(str(kwargs.get("to", "")))]
        if self.task_name == "smart_dairy.email.send_email_batch":
            args = json.loads(self.sudo().args_json or "[]")
            return [str(r) for r in (args[0] if args else [])]
        if kwargs.get("to"):
            return [str(kwargs["to"])]
        return [str(r) for r in kwargs.get("recipients") or []]
