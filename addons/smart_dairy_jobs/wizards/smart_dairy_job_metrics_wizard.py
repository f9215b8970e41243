from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class SmartDairyJobMetricsWizard(models.TransientModel):
    """Task metrics per task type and queue over a chosen period (one SQL aggregation)."""

    _name = "smart_dairy.job.metrics.wizard"
    _description = "Task Metrics"

    date_from = fields.Datetime(required=True, default=lambda self: fields.Datetime.now() - timedelta(days=1))
    date_to = fields.Datetime(required=True, default=fields.Datetime.now)
    line_ids = fields.One2many("smart_dairy.job.metrics.line", "wizard_id", readonly=True)

    @api.constrains("date_from", "date_to")
    def _check_period(self):
        for wizard in self:
            if wizard.date_from >= wizard.date_to:
                raise ValidationError(self.env._("The period must end after it starts."))

    def action_compute(self):
        self.ensure_one()
        rows = self.env["smart_dairy.job.monitor"].task_statistics(self.date_from, self.date_to)
        self.line_ids = [(5, 0, 0)] + [(0, 0, row) for row in rows]
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id, "view_mode": "form",
                "target": "new", "name": self.env._("Task Metrics")}
