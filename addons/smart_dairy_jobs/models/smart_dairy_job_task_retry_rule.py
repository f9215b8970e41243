from odoo import fields, models

from celery_bridge.core import errors


class SmartDairyJobTaskRetryRule(models.Model):
    """A task type's own way of retrying one error class, replacing the B-009 §6.1 default."""

    _name = "smart_dairy.job.task.retry.rule"
    _description = "Retry Rule of a Task Type"
    _order = "task_id, error_type"

    task_id = fields.Many2one("smart_dairy.job.task", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="task_id.company_id", store=True)
    error_type = fields.Selection(errors.ERROR_TYPES, required=True)
    strategy = fields.Selection(errors.STRATEGIES, required=True, default="backoff")
    max_retries = fields.Integer(required=True, default=3)
    delay = fields.Float(
        string="Delay (s)", default=60.0, help="For delayed retries when the error gives no Retry-After."
    )

    _sql_constraints = [
        ("error_type_unique", "UNIQUE(task_id, error_type)", "One rule per error type and task type."),
        ("max_retries_positive", "CHECK(max_retries >= 0)", "Max retries cannot be negative."),
        ("delay_positive", "CHECK(delay >= 0)", "The delay cannot be negative."),
    ]
