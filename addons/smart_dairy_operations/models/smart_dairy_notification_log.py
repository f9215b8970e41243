from odoo import fields, models

CHANNELS = [("email", "Email"), ("sms", "SMS")]
OUTCOMES = [("sent", "Sent"), ("refused", "Refused"), ("invalid", "Invalid"), ("failed", "Failed")]


class SmartDairyNotificationLog(models.Model):
    """One line per message a notification job tried to send: who, which template, what happened.
    Written by Odoo from the job's result (no call per message from the workers); never a secret."""

    _name = "smart_dairy.notification.log"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    _description = "Notification Log"
    # Written from the jobs' results only (_create_from_jobs): no field is anyone's to set.
    _protected_fields = "__all__"
    _order = "id desc"
    _rec_name = "recipient"

    job_id = fields.Many2one("smart_dairy.job", readonly=True, index=True, ondelete="set null")
    channel = fields.Selection(CHANNELS, required=True, readonly=True)
    recipient = fields.Char(required=True, readonly=True)
    template = fields.Char(readonly=True)
    subject = fields.Char(readonly=True)
    outcome = fields.Selection(OUTCOMES, required=True, readonly=True, index=True)
    message_id = fields.Char(string="Message ID", readonly=True)
    error = fields.Char(readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, default=lambda self: self.env.company)

    def _create_from_jobs(self, jobs):
        """Log lines for finished notification jobs: from their results' outcomes when they succeeded,
        one failed line per recipient when they failed for good."""
        vals_list = []
        for job in jobs:
            channel = "sms" if job.task_name == "smart_dairy.sms.send_sms" else "email"
            base = {"job_id": job.id, "channel": channel, "company_id": job.company_id.id}
            result = job._result() if job.state == "success" else None
            if isinstance(result, dict):
                for outcome in result.get("outcomes") or []:
                    vals_list.append(dict(base, recipient=str(outcome.get("recipient"))[:256],
                                          template=result.get("template") or False,
                                          subject=(result.get("subject") or "")[:256] or False,
                                          outcome=outcome.get("outcome") if outcome.get("outcome") in dict(OUTCOMES)
                                          else "failed",
                                          message_id=outcome.get("message_id") or False,
                                          error=(outcome.get("error") or "")[:256] or False))
            elif job.state == "failure":
                outcome = "refused" if job.error_type == "validation" else "failed"
                for recipient in job._notification_recipients():
                    vals_list.append(dict(base, recipient=recipient[:256], outcome=outcome,
                                          template=job._kwargs().get("template") or False,
                                          error=(job.error_message or job.error_type or "")[:256]))
        # sudo: lines are written from finished jobs' results, whoever reported them (the bridge user).
        return self.sudo().create(vals_list)
