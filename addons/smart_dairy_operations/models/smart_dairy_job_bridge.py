from odoo import api, models


class SmartDairyJobBridge(models.AbstractModel):
    _inherit = "smart_dairy.job.bridge"

    @api.model
    def daily_report_recipients(self, uuid):
        """The IoT managers of the running daily-report job's company."""
        self._check_bridge_user()
        return self.env["smart_dairy.report.request"]._daily_report_recipients(uuid)
