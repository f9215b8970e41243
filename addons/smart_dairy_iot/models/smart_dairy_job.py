from odoo import fields, models


class SmartDairyJob(models.Model):
    _inherit = "smart_dairy.job"

    origin = fields.Selection(selection_add=[("iot", "IoT readings")], ondelete={"iot": "set default"})
