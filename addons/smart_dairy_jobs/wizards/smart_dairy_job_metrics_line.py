from odoo import fields, models


class SmartDairyJobMetricsLine(models.TransientModel):
    _name = "smart_dairy.job.metrics.line"
    _description = "Task Metrics Line"
    _order = "count desc"

    wizard_id = fields.Many2one("smart_dairy.job.metrics.wizard", required=True, ondelete="cascade")
    task_name = fields.Char(readonly=True)
    queue = fields.Char(readonly=True)
    count = fields.Integer(readonly=True)
    success_rate = fields.Float(string="Success (%)", readonly=True, digits=(16, 1))
    failure_rate = fields.Float(string="Failure (%)", readonly=True, digits=(16, 1))
    mean_duration = fields.Float(string="Mean Duration (s)", readonly=True, digits=(16, 4))
    p95_duration = fields.Float(string="p95 Duration (s)", readonly=True, digits=(16, 4))
    mean_wait = fields.Float(string="Mean Wait (s)", readonly=True, digits=(16, 4))
    sla_compliance = fields.Float(string="SLA Met (%)", readonly=True, digits=(16, 1))
