from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import SmartDairyIotCase


class TestIotSecurity(SmartDairyIotCase):
    def test_users_read_and_handle_alerts_managers_configure(self):
        Device = self.env["smart_dairy.iot.device"]
        self.assertIn(self.meter, Device.with_user(self.iot_user).search([]))
        with self.assertRaises(AccessError):
            Device.with_user(self.iot_user).create({"name": "x", "device_code": "X-1", "device_type": "milk_meter"})
        with self.assertRaises(AccessError):
            self.env["smart_dairy.iot.threshold"].with_user(self.iot_user).create({
                "name": "x", "device_type": "milk_tank", "metric": "milk_temperature",
                "min_value": 1, "max_value": 2})
        Device.with_user(self.iot_manager).create({"name": "x", "device_code": "X-1", "device_type": "milk_meter"})
        outsider = new_test_user(self.env, "no_iot", groups="base.group_user")
        with self.assertRaises(AccessError):
            Device.with_user(outsider).search([])

    def test_other_company_devices_and_readings_are_hidden(self):
        other = self.env["res.company"].create({"name": "Other Farm"})
        foreign = self.env["smart_dairy.iot.device"].create({
            "name": "Their meter", "device_code": "OTHER-1", "device_type": "milk_meter", "company_id": other.id})
        self.process("OTHER-1", [self.reading("milk_yield", 5.0)], company=other)
        self.process("MM-003", [self.reading("milk_yield", 6.0)])
        user = self.iot_user
        self.assertNotIn(foreign, self.env["smart_dairy.iot.device"].with_user(user).search([]))
        readings = self.env["smart_dairy.iot.reading"].with_user(user).search([])
        self.assertEqual(readings.device_id, self.meter)
