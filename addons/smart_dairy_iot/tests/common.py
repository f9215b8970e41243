from datetime import datetime, timedelta

from odoo.tests import TransactionCase, new_test_user

from celery_bridge.odoo_db import iot as store


def process_batch(env, device_code, raw_readings, now=None, company=None):
    """What the process_sensor_data task does for a job of ``company`` (default: ``env``'s company),
    run in ``env``'s transaction."""
    env.flush_all()
    company_id = (company or env.company).id
    counts = store.process_batch(env.cr, device_code, raw_readings, company_id=company_id, now=now)
    env.invalidate_all()
    return counts


def make_reading(now, metric, value, seconds_ago=0):
    return {"metric": metric, "value": value, "ts": (now - timedelta(seconds=seconds_ago)).isoformat() + "Z"}


class SmartDairyIotCase(TransactionCase):
    """Runs the workers' SQL (celery_bridge.odoo_db.iot) inside the test transaction."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.iot_user = new_test_user(cls.env, "iot_user", groups="smart_dairy_iot.group_user")
        cls.iot_manager = new_test_user(cls.env, "iot_manager", groups="smart_dairy_iot.group_manager")
        Device = cls.env["smart_dairy.iot.device"]
        cls.meter = Device.create({"name": "Stall 3 meter", "device_code": "MM-003", "device_type": "milk_meter"})
        cls.tank = Device.create({"name": "Bulk tank 1", "device_code": "TANK-1", "device_type": "milk_tank",
                                  "is_critical": True})
        cls.now = datetime.utcnow().replace(microsecond=0)

    def process(self, device_code, raw_readings, now=None, company=None):
        return process_batch(self.env, device_code, raw_readings, now=now, company=company)

    def reading(self, metric, value, seconds_ago=0):
        return make_reading(self.now, metric, value, seconds_ago)
