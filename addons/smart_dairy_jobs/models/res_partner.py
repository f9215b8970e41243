from odoo import models


class ResPartner(models.Model):
    """The shipped example: contacts show the jobs dispatched about them (see the automation rule)."""

    _name = "res.partner"
    _inherit = ["res.partner", "smart_dairy.job.mixin"]
