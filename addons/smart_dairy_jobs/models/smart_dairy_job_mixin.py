from odoo import fields, models


class SmartDairyJobMixin(models.AbstractModel):
    """Gives a business model a smart button with the background jobs dispatched about its records."""

    _name = "smart_dairy.job.mixin"
    _description = "Records with Background Jobs"

    smart_dairy_job_count = fields.Integer(
        string="Background Jobs", compute="_compute_smart_dairy_job_count",
        groups="smart_dairy_jobs.group_user",
    )

    def _compute_smart_dairy_job_count(self):
        counts = dict(self.env["smart_dairy.job"]._read_group(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)], ["res_id"], ["__count"]))
        for record in self:
            record.smart_dairy_job_count = counts.get(record.id, 0)

    def action_view_smart_dairy_jobs(self):
        self.ensure_one()
        self.check_access("read")
        self.env["smart_dairy.job"].browse().check_access("read")  # Jobs users only
        action = self.env["ir.actions.actions"]._for_xml_id("smart_dairy_jobs.smart_dairy_job_action")
        action["domain"] = [("res_model", "=", self._name), ("res_id", "=", self.id)]
        action["context"] = {}
        return action
