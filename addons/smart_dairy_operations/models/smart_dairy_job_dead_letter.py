from odoo import models


class SmartDairyJobDeadLetter(models.Model):
    """A payment that failed for good is money the dairy did not collect: Jobs managers hear of it at once."""

    _inherit = "smart_dairy.job.dead.letter"

    def _alert_failed_for_good(self):
        super()._alert_failed_for_good()
        payments = self.filtered(lambda entry: entry.task_type_id.category == "payment")
        if not payments:
            return
        managers = self.env.ref("smart_dairy_jobs.group_manager").users.filtered(lambda user: user.active and not user.share)
        for entry in payments:
            entry.message_post(
                body=self.env._("Payment job %(job)s failed for good: %(error)s",
                                job=entry.job_id.display_name, error=entry.error_message or entry.error_type),
                partner_ids=managers.partner_id.ids,
                subtype_xmlid="mail.mt_comment",
                message_type="notification",
            )
