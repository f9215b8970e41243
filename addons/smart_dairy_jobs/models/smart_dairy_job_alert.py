from odoo import fields, models

CONDITIONS = [
    ("queue_depth", "Queue backing up"),
    ("dead_letters", "Dead letters growing"),
    ("worker_offline", "Worker offline"),
    ("sla_breach", "SLA breaches"),
    ("task_failure_rate", "Task failures climbing"),
    ("task_slow", "Task slowing down (p95)"),
    ("circuit_open", "Circuit open"),
    ("queue_no_consumer", "Queue without consumer"),
]


class SmartDairyJobAlert(models.Model):
    """One alert per condition and subject while it lasts; Jobs managers are notified once."""

    _name = "smart_dairy.job.alert"
    _inherit = ["mail.thread", "smart_dairy.protected.fields.mixin"]
    _description = "Background Jobs Alert"
    _order = "state, last_seen desc"
    _rec_name = "message"
    # Raised and cleared by the alert check only: the people an alert warns cannot silence it.
    _protected_fields = ("condition", "subject", "message", "state", "first_seen", "last_seen", "cleared_at")

    condition = fields.Selection(CONDITIONS, required=True, readonly=True, index=True)
    subject = fields.Char(required=True, readonly=True, help="The queue, worker, task or service the alert is about.")
    message = fields.Char(readonly=True)
    state = fields.Selection([("active", "Active"), ("cleared", "Cleared")], default="active", required=True,
                             readonly=True, index=True, tracking=True)
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(readonly=True)
    cleared_at = fields.Datetime(readonly=True)

    def init(self):
        # At most one active alert per condition and subject, enforced by the database.
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS smart_dairy_job_alert_one_active
                ON smart_dairy_job_alert (condition, subject) WHERE state = 'active'""")

    def _notify_managers(self):
        managers = self.env.ref("smart_dairy_jobs.group_manager").users.filtered(lambda u: u.active and not u.share)
        for alert in self:
            alert.message_post(body=alert.message, partner_ids=managers.partner_id.ids,
                               subtype_xmlid="mail.mt_comment", message_type="notification")
