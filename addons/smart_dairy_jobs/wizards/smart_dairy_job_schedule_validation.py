from odoo import fields, models


class SmartDairyJobScheduleValidation(models.TransientModel):
    _name = "smart_dairy.job.schedule.validation"
    _description = "Check of Background Job Schedules"

    report = fields.Text(readonly=True)
