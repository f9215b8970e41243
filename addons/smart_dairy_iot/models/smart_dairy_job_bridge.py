from odoo import api, models


class SmartDairyJobBridge(models.AbstractModel):
    _inherit = "smart_dairy.job.bridge"

    @api.model
    def notify_critical(self, alert_ids, company_id=None):
        """Tell the IoT managers of ``company_id`` about its open critical alerts (the health check)."""
        self._check_bridge_user()
        return self.env["smart_dairy.iot.alert"]._notify_critical(alert_ids, company_id)
