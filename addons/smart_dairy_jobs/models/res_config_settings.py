from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    smart_dairy_jobs_metrics_token = fields.Char(
        string="Metrics Token", config_parameter="smart_dairy_jobs.metrics_token",
        help="Prometheus sends it as 'Authorization: Bearer <token>' to /smart_dairy_jobs/metrics. Empty: no data.",
    )
    smart_dairy_jobs_alert_queue_depth = fields.Integer(
        string="Alert Above Queue Depth", config_parameter="smart_dairy_jobs.alert_queue_depth", default=1000)
    smart_dairy_jobs_alert_sla_breach_percent = fields.Float(
        string="Alert Above SLA Breaches (%)", config_parameter="smart_dairy_jobs.alert_sla_breach_percent",
        default=10.0)
    smart_dairy_jobs_alert_dead_letter_window_minutes = fields.Integer(
        string="Dead Letters Window (min)", config_parameter="smart_dairy_jobs.alert_dead_letter_window_minutes",
        default=15)
