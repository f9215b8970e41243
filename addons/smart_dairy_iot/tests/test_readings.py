from datetime import date, datetime, timedelta

from odoo.exceptions import AccessError, ValidationError
from celery_bridge.odoo_db import iot as store

from .common import SmartDairyIotCase


class TestReadings(SmartDairyIotCase):
    def test_batch_is_validated_stored_and_device_online(self):
        result = self.process("MM-003", [
            self.reading("milk_yield", 12.5, 30),
            self.reading("conductivity", 5.1, 30),
            self.reading("temperature", 20, 30),            # an environment metric: not a meter's
            self.reading("milk_yield", 400, 20),            # no cow gives 400 L at a milking
            self.reading("milk_yield", "much", 20),
            {"metric": "milk_yield", "value": 3.0, "ts": (self.now + timedelta(hours=1)).isoformat()},
            {"metric": "milk_yield", "value": 3.0, "ts": "yesterday"},
        ])
        self.assertEqual(result["stored"], 2)
        self.assertEqual(result["rejected"], {"bad_metric": 1, "out_of_physical_range": 1, "bad_value": 1,
                                              "future_timestamp": 1, "bad_timestamp": 1})
        readings = self.env["smart_dairy.iot.reading"].search([("device_id", "=", self.meter.id)])
        self.assertEqual(sorted(readings.mapped("metric")), ["conductivity", "milk_yield"])
        self.assertEqual(readings.filtered(lambda r: r.metric == "milk_yield").value, 12.5)
        self.assertTrue(all(r.stored_at and r.company_id == self.meter.company_id for r in readings))
        self.assertEqual(self.meter.state, "online")
        self.assertEqual(self.meter.last_seen, self.now - timedelta(seconds=30))
        self.assertIn("Milk yield: 12.5 L", self.meter.latest_values_text)

    def test_redelivered_batch_is_not_stored_twice(self):
        batch = [self.reading("milk_yield", 11.0, 60), self.reading("milk_flow", 2.5, 60)]
        self.assertEqual(self.process("MM-003", batch)["stored"], 2)
        self.assertEqual(self.process("MM-003", batch)["stored"], 0)
        self.assertEqual(self.env["smart_dairy.iot.reading"].search_count([("device_id", "=", self.meter.id)]), 2)

    def test_latest_values_keep_the_newest_reading(self):
        self.process("MM-003", [self.reading("milk_flow", 3.0, 10)])
        self.process("MM-003", [self.reading("milk_flow", 1.0, 100)])  # an older batch arriving late
        self.assertEqual(self.meter.latest_values["milk_flow"]["value"], 3.0)
        self.assertEqual(self.meter.last_seen, self.now - timedelta(seconds=10))

    def test_unknown_device_rejects_everything(self):
        result = self.process("NOPE-1", [self.reading("milk_yield", 1), self.reading("milk_flow", 1)])
        self.assertEqual((result["stored"], result["rejected"]), (0, {"unknown_device": 2}))
        self.assertFalse(self.env["smart_dairy.iot.reading"].search([]))

    def test_maintenance_device_stores_but_stays_in_maintenance(self):
        self.meter.action_start_maintenance()
        self.process("MM-003", [self.reading("milk_yield", 9.0)])
        self.assertEqual(self.meter.state, "maintenance")
        self.assertEqual(self.env["smart_dairy.iot.reading"].search_count([("device_id", "=", self.meter.id)]), 1)

    def test_reading_indexes_exist(self):
        self.env.cr.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'smart_dairy_iot_reading'")
        names = {row[0] for row in self.env.cr.fetchall()}
        self.assertTrue({"smart_dairy_iot_reading_device_metric_time_uniq", "smart_dairy_iot_reading_device_time_idx",
                         "smart_dairy_iot_reading_time_brin"} <= names)

    def test_milk_aggregation_per_farm_day_is_idempotent(self):
        Reading = self.env["smart_dairy.iot.reading"]
        day = date(2026, 11, 20)
        # Asia/Dhaka is UTC+6: the farm day 2026-11-20 runs from 2026-11-19 18:00 to 2026-11-20 18:00 UTC.
        inside = [datetime(2026, 11, 19, 18, 0), datetime(2026, 11, 20, 5, 30), datetime(2026, 11, 20, 17, 59)]
        outside = [datetime(2026, 11, 19, 17, 59), datetime(2026, 11, 20, 18, 0)]
        other = self.env["smart_dairy.iot.device"].create(
            {"name": "Stall 4 meter", "device_code": "MM-004", "device_type": "milk_meter"})
        self.env.flush_all()
        rows = [(self.meter.id, stamp, 10.0) for stamp in inside] + [(self.meter.id, s, 99.0) for s in outside]
        rows.append((other.id, datetime(2026, 11, 20, 6, 0), 7.5))
        for device_id, stamp, value in rows:
            self.env.cr.execute(
                "INSERT INTO smart_dairy_iot_reading (device_id, company_id, timestamp, metric, value, unit) "
                "VALUES (%s, %s, %s, 'milk_yield', %s, 'L')", [device_id, self.env.company.id, stamp, value])
        first = store.aggregate_milk(self.env.cr, day, "Asia/Dhaka", self.env.company.id)
        self.assertEqual(first, {self.meter.id: 30.0, other.id: 7.5})
        Production = self.env["smart_dairy.iot.milk.production"]
        before = Production.search_read([("day", "=", day)], ["device_id", "quantity", "reading_count"], order="id")
        self.assertEqual(store.aggregate_milk(self.env.cr, day, "Asia/Dhaka", self.env.company.id), first)
        self.env.invalidate_all()
        after = Production.search_read([("day", "=", day)], ["device_id", "quantity", "reading_count"], order="id")
        self.assertEqual(before, after)  # same rows, same ids
        self.assertEqual([r["reading_count"] for r in after], [3, 1])
        # A device whose readings are gone (cleanup) leaves the day's rows.
        Reading.search([("device_id", "=", other.id)]).unlink()
        self.env.flush_all()
        store.aggregate_milk(self.env.cr, day, "Asia/Dhaka", self.env.company.id)
        self.env.invalidate_all()
        self.assertEqual(Production.search([("day", "=", day)]).device_id, self.meter)


class TestDevices(SmartDairyIotCase):
    def test_device_id_is_unique_and_topic_safe(self):
        Device = self.env["smart_dairy.iot.device"]
        with self.assertRaises(ValidationError), self.cr.savepoint():
            Device.create({"name": "x", "device_code": "farm/1", "device_type": "milk_meter"})
        with self.assertRaises(Exception), self.cr.savepoint():
            Device.create({"name": "dup", "device_code": "MM-003", "device_type": "milk_meter"})

    def test_threshold_rule_checks(self):
        Rule = self.env["smart_dairy.iot.threshold"]
        with self.assertRaises(ValidationError), self.cr.savepoint():
            Rule.create({"name": "inverted", "device_type": "milk_tank", "metric": "milk_temperature",
                         "min_value": 6, "max_value": 2})
        with self.assertRaises(ValidationError), self.cr.savepoint():
            Rule.create({"name": "wrong metric", "device_type": "milk_tank", "metric": "rumination",
                         "min_value": 0, "max_value": 5})
        with self.assertRaises(ValidationError), self.cr.savepoint():
            Rule.create({"name": "no target", "metric": "milk_temperature", "min_value": 0, "max_value": 5})

    def test_submit_readings_queues_one_job_per_batch(self):
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        Job = self.env["smart_dairy.job"].sudo()
        before = Job.search_count([("task_name", "=", "smart_dairy.iot.process_sensor_data")])
        big = [self.reading("milk_yield", 1.0, seconds) for seconds in range(2500)]
        count = self.env["smart_dairy.iot.device"].with_user(bridge).submit_readings([
            {"device_id": "MM-003", "readings": [self.reading("milk_yield", 10.0)]},
            {"device_id": "TANK-1", "readings": big},
        ])
        self.assertEqual(count, 3)  # 2500 readings are split in jobs of at most 2000
        jobs = Job.search([("task_name", "=", "smart_dairy.iot.process_sensor_data")], order="id desc", limit=3)
        self.assertEqual(Job.search_count([("task_name", "=", "smart_dairy.iot.process_sensor_data")]), before + 3)
        self.assertEqual(set(jobs.mapped("origin")), {"iot"})
        self.assertEqual(set(jobs.queue_id.mapped("name")), {"celery:iot"})

    def test_submit_readings_refuses_others_and_bad_input(self):
        Device = self.env["smart_dairy.iot.device"]
        with self.assertRaises(AccessError):
            Device.with_user(self.iot_user).submit_readings([])
        with self.assertRaises(ValidationError):
            Device.with_user(self.iot_manager).submit_readings([{"device_id": 5, "readings": []}])
        with self.assertRaises(ValidationError):
            Device.with_user(self.iot_manager).submit_readings("MM-003")
