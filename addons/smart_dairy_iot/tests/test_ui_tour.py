from datetime import datetime

from odoo.tests import HttpCase, tagged

from .common import make_reading, process_batch


@tagged("post_install", "-at_install")
class TestIotTour(HttpCase):
    def test_operator_handles_a_tank_alert(self):
        device = self.env["smart_dairy.iot.device"].create(
            {"name": "Bulk tank 1", "device_code": "TANK-1", "device_type": "milk_tank", "is_critical": True})
        process_batch(self.env, "TANK-1", [make_reading(datetime.utcnow(), "milk_temperature", 9.5)])
        alert = self.env["smart_dairy.iot.alert"].search([("device_id", "=", device.id)])
        self.assertEqual(alert.state, "new")
        self.start_tour("/odoo", "smart_dairy_iot_alert_tour", login="admin")
        alert.invalidate_recordset()
        self.assertEqual((alert.state, alert.resolved_by_id.login), ("resolved", "admin"))
