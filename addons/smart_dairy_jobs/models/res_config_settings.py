from odoo import api, fields, models
from odoo.exceptions import ValidationError

from celery_bridge.core import schedules


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
    smart_dairy_jobs_schedule_spacing_minutes = fields.Integer(
        string="Schedule Spacing (min)", config_parameter="smart_dairy_jobs.schedule_spacing_minutes", default=15,
        help="Schedules on one queue start at least this far apart (1 to 720). Frequent ones, every less than twice "
             "this, only keep out of each other's minute.")
    smart_dairy_jobs_alert_dead_letter_window_minutes = fields.Integer(
        string="Dead Letters Window (min)", config_parameter="smart_dairy_jobs.alert_dead_letter_window_minutes",
        default=15)
    smart_dairy_jobs_alert_task_window_minutes = fields.Integer(
        string="Task Health Window (min)", config_parameter="smart_dairy_jobs.alert_task_window_minutes", default=15,
        help="Failure rate and p95 run time of each task type are judged on the jobs that ended in this window.")
    smart_dairy_jobs_alert_task_min_jobs = fields.Integer(
        string="Judge Tasks From (jobs)", config_parameter="smart_dairy_jobs.alert_task_min_jobs", default=10,
        help="A task type with fewer jobs ended in the window raises no failure-rate or slowness alert.")
    smart_dairy_jobs_alert_failure_rate_percent = fields.Float(
        string="Alert Above Task Failure Rate (%)", config_parameter="smart_dairy_jobs.alert_failure_rate_percent",
        default=20.0)
    smart_dairy_jobs_alert_p95_time_limit_percent = fields.Float(
        string="Alert Above p95 (% of Soft Time Limit)", config_parameter="smart_dairy_jobs.alert_p95_time_limit_percent",
        default=80.0, help="p95 run time of a task type as a share of its soft time limit.")
    smart_dairy_jobs_alert_queue_without_consumer_minutes = fields.Integer(
        string="Queue Without Consumer After (min)",
        config_parameter="smart_dairy_jobs.alert_queue_without_consumer_minutes", default=2,
        help="A queue with jobs waiting whose last consumer was seen longer ago than this (a restart is shorter).")

    @api.constrains("smart_dairy_jobs_schedule_spacing_minutes")
    def _check_schedule_spacing(self):
        for settings in self:
            if not 1 <= settings.smart_dairy_jobs_schedule_spacing_minutes <= schedules.MAX_SPACING_MINUTES:
                raise ValidationError(self.env._("Schedule spacing must be from 1 to %(max)s minutes.",
                                                 max=schedules.MAX_SPACING_MINUTES))
