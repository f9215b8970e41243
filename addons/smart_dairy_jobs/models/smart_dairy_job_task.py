from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .smart_dairy_job_queue import PRIORITY_HELP

CATEGORIES = [
    ("diagnostic", "Diagnostic"),
    ("iot", "IoT Processing"),
    ("email", "Email Notifications"),
    ("sms", "SMS Notifications"),
    ("report", "Report Generation"),
    ("payment", "Payment Processing"),
    ("sync", "Data Sync"),
    ("image", "Image Processing"),
    ("aggregation", "Daily Aggregation"),
]


class SmartDairyJobTask(models.Model):
    """A kind of background work a worker knows, with its queue and limits (B-009 §3.1)."""

    _name = "smart_dairy.job.task"
    _inherit = ["smart_dairy.job.lookup.mixin"]
    _description = "Background Job Task Type"
    _order = "category, name"
    _check_company_auto = True

    name = fields.Char(string="Task Name", required=True, help="Celery task name, e.g. smart_dairy.health.ping")
    description = fields.Char()
    category = fields.Selection(CATEGORIES, required=True, default="diagnostic")
    queue_id = fields.Many2one(
        "smart_dairy.job.queue", required=True, ondelete="restrict", check_company=True
    )
    priority = fields.Integer(default=5, required=True, help=PRIORITY_HELP)
    soft_time_limit = fields.Integer(
        string="Soft Time Limit (s)", required=True, default=55,
        help="The task is warned and may clean up when this runs out.",
    )
    time_limit = fields.Integer(
        string="Hard Time Limit (s)", required=True, default=60, help="The task is killed when this runs out."
    )
    max_retries = fields.Integer(required=True, default=3)
    active = fields.Boolean(
        default=True, help="Inactive task types cannot be dispatched (e.g. no worker implements them yet)."
    )
    company_id = fields.Many2one("res.company", help="Leave empty to share the task type with every company.")

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A task type with this name already exists."),
        ("priority_range", "CHECK(priority BETWEEN 0 AND 9)", "Task priority must be between 0 and 9."),
        ("max_retries_positive", "CHECK(max_retries >= 0)", "Max retries cannot be negative."),
    ]

    @api.constrains("soft_time_limit", "time_limit")
    def _check_time_limits(self):
        for task in self:
            if task.soft_time_limit <= 0 or task.time_limit <= 0:
                raise ValidationError(self.env._("Time limits of %s must be positive.", task.name))
            if task.soft_time_limit > task.time_limit:
                raise ValidationError(
                    self.env._("The soft time limit of %s cannot exceed its hard time limit.", task.name)
                )
