"""Issue 12 (Trust) for Farm IoT: two companies, each with its own device; nothing done for or by
company B reaches company A's device, alerts, readings or production, and every door refuses bad
input cleanly with nothing written.

Device IDs are unique across companies (one MQTT topic level names one device), so company B's
attempts use company A's device ID and must find nothing. The workers' SQL (celery_bridge.odoo_db.iot)
runs in the test transaction with the company a job of B would carry.
"""
import json
from datetime import date, datetime

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user

from celery_bridge.core import limits
from celery_bridge.odoo_db import iot as store

from .common import SmartDairyIotCase

PROCESS = "smart_dairy.iot.process_sensor_data"


class TrustCase(SmartDairyIotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Farm B"})
        in_b = {"company_id": cls.company_b.id, "company_ids": [(6, 0, cls.company_b.ids)]}
        cls.user_b = new_test_user(cls.env, "iot_user_b", groups="smart_dairy_iot.group_user", **in_b)
        cls.manager_b = new_test_user(cls.env, "iot_manager_b", groups="smart_dairy_iot.group_manager", **in_b)
        Device = cls.env["smart_dairy.iot.device"]
        # Company A's devices are the common ones: MM-003 (meter) and TANK-1 (critical tank).
        cls.meter_b = Device.create({"name": "B meter", "device_code": "MM-B1", "device_type": "milk_meter",
                                     "company_id": cls.company_b.id})
        cls.bridge = cls.env.ref("smart_dairy_jobs.user_bridge")
        cls.Job = cls.env["smart_dairy.job"].sudo()

    def job_count(self, **where):
        domain = [("task_name", "=", PROCESS)] + [(name, "=", value) for name, value in where.items()]
        return self.Job.search_count(domain)

    def device_snapshot(self, device):
        self.env.invalidate_all()
        device = device.sudo()
        return (device.state, device.last_seen, device.latest_values,
                self.env["smart_dairy.iot.reading"].sudo().search_count([("device_id", "=", device.id)]),
                self.env["smart_dairy.iot.alert"].sudo().search_count([("device_id", "=", device.id)]))


class TestWorkerStaysInItsCompany(TrustCase):
    def test_company_b_job_cannot_store_on_company_a_device(self):
        before = self.device_snapshot(self.meter)
        result = self.process("MM-003", [self.reading("milk_yield", 12.0), self.reading("conductivity", 9.9)],
                              company=self.company_b)
        self.assertEqual((result["stored"], result["rejected"]), (0, {"unknown_device": 2}))
        self.assertEqual(self.device_snapshot(self.meter), before)
        # The same batch in a job of A is stored: the device was found only because the company matches.
        self.assertEqual(self.process("MM-003", [self.reading("milk_yield", 12.0)])["stored"], 1)
        # And B's own device works for B's jobs, not for A's.
        self.assertEqual(self.process("MM-B1", [self.reading("milk_yield", 3.0)])["rejected"], {"unknown_device": 1})
        self.assertEqual(self.process("MM-B1", [self.reading("milk_yield", 3.0)], company=self.company_b)["stored"], 1)

    def test_store_refuses_to_run_without_a_company(self):
        self.env.flush_all()
        for company_id in (None, 0, "1", True):
            with self.assertRaises(ValueError):
                store.process_batch(self.env.cr, "MM-003", [self.reading("milk_yield", 1.0)], company_id=company_id)
            with self.assertRaises(ValueError):
                store.mark_silent_devices_offline(self.env.cr, company_id)

    def test_thresholds_of_another_company_do_not_apply(self):
        self.env["smart_dairy.iot.threshold"].create({
            "name": "B's strict conductivity", "device_type": "milk_meter", "metric": "conductivity",
            "min_value": 3, "max_value": 4, "severity": "critical", "company_id": self.company_b.id})
        self.assertEqual(self.process("MM-003", [self.reading("conductivity", 5.0)])["alerts_opened"], 0)
        self.assertEqual(self.process("MM-B1", [self.reading("conductivity", 5.0)], company=self.company_b)
                         ["alerts_opened"], 1)

    def test_offline_sweep_of_company_b_leaves_company_a_devices(self):
        self.process("MM-003", [self.reading("milk_yield", 8.0, 3600)])
        self.process("MM-B1", [self.reading("milk_yield", 8.0, 3600)], company=self.company_b)
        before = self.device_snapshot(self.meter)
        self.assertEqual(before[0], "online")
        self.env.flush_all()
        self.assertEqual(store.mark_silent_devices_offline(self.env.cr, self.company_b.id, minutes=5),
                         [self.meter_b.id])
        self.assertEqual(self.device_snapshot(self.meter), before)
        self.assertEqual(self.meter_b.state, "offline")

    def test_aggregation_of_company_b_leaves_company_a_rows(self):
        day = date(2026, 11, 20)
        for device, value in ((self.meter, 10.0), (self.meter_b, 4.0)):
            self.env.cr.execute(
                "INSERT INTO smart_dairy_iot_reading (device_id, company_id, timestamp, metric, value, unit) "
                "VALUES (%s, %s, %s, 'milk_yield', %s, 'L')",
                [device.id, device.company_id.id, datetime(2026, 11, 20, 6, 0), value])
        self.assertEqual(store.aggregate_milk(self.env.cr, day, "Asia/Dhaka", self.company_a.id), {self.meter.id: 10.0})
        Production = self.env["smart_dairy.iot.milk.production"].sudo()
        self.env.invalidate_all()
        rows_a = Production.search_read([("company_id", "=", self.company_a.id)], ["device_id", "quantity"])
        # B's run: its own device only; A's row keeps its id and quantity, even once A's readings are gone.
        self.env.cr.execute("DELETE FROM smart_dairy_iot_reading WHERE device_id = %s", [self.meter.id])
        self.assertEqual(store.aggregate_milk(self.env.cr, day, "Asia/Dhaka", self.company_b.id),
                         {self.meter_b.id: 4.0})
        self.env.invalidate_all()
        self.assertEqual(Production.search_read([("company_id", "=", self.company_a.id)], ["device_id", "quantity"]),
                         rows_a)
        self.assertEqual(Production.search([("company_id", "=", self.company_b.id)]).device_id, self.meter_b)

    def test_health_check_of_company_b_sees_only_its_alerts(self):
        self.process("TANK-1", [self.reading("milk_temperature", 15.0)])
        self.env.flush_all()
        self.assertTrue(store.critical_alerts_to_notify(self.env.cr, self.company_a.id))
        self.assertEqual(store.critical_alerts_to_notify(self.env.cr, self.company_b.id), [])


class TestSubmitReadings(TrustCase):
    def test_company_b_manager_cannot_reach_company_a_device(self):
        jobs_in_a = self.job_count(company_id=self.company_a.id)
        before = self.device_snapshot(self.meter)
        Device = self.env["smart_dairy.iot.device"].with_user(self.manager_b)
        queued = Device.submit_readings([
            {"device_id": "MM-003", "readings": [self.reading("milk_yield", 50.0)]},
            {"device_id": "MM-B1", "readings": [self.reading("milk_yield", 5.0)]},
        ])
        self.assertEqual(queued, 2)
        self.assertEqual(self.job_count(company_id=self.company_a.id), jobs_in_a, "no job in company A")
        jobs = self.Job.search([("task_name", "=", PROCESS), ("user_id", "=", self.manager_b.id)])
        self.assertEqual((set(jobs.company_id.ids), set(jobs.mapped("origin"))), ({self.company_b.id}, {"iot"}))
        # What the worker does with each job, in the job's company: A's device is unknown to B.
        results = {}
        for job in jobs:
            device_code, readings = json.loads(job.args_json)
            results[device_code] = self.process(device_code, readings, company=job.company_id)
        self.assertEqual(results["MM-003"]["rejected"], {"unknown_device": 1})
        self.assertEqual(results["MM-B1"]["stored"], 1)
        self.assertEqual(self.device_snapshot(self.meter), before)
        # Claiming company A in the context is refused, with nothing queued.
        count = self.job_count()
        with self.assertRaises(AccessError):
            Device.with_context(allowed_company_ids=self.company_a.ids).submit_readings(
                [{"device_id": "MM-003", "readings": [self.reading("milk_yield", 50.0)]}])
        self.assertEqual(self.job_count(), count)

    def test_each_batch_is_queued_in_its_device_company_as_the_caller(self):
        self.bridge.company_ids = [(4, self.company_b.id)]
        count = self.Device_as_bridge().submit_readings([
            {"device_id": "MM-003", "readings": json.dumps([self.reading("milk_yield", 1.0)])},
            {"device_id": "MM-B1", "readings": [self.reading("milk_yield", 2.0)]},
            {"device_id": "TANK-1", "readings": [self.reading("milk_temperature", 4.0)]},
        ])
        self.assertEqual(count, 3)
        jobs = self.Job.search([("task_name", "=", PROCESS)], order="id desc", limit=3)
        by_device = {json.loads(job.args_json)[0]: job for job in jobs}
        self.assertEqual({code: job.company_id for code, job in by_device.items()},
                         {"MM-003": self.company_a, "TANK-1": self.company_a, "MM-B1": self.company_b})
        self.assertEqual((set(jobs.user_id.ids), set(jobs.mapped("origin"))), ({self.bridge.id}, {"iot"}))

    def Device_as_bridge(self):  # noqa: N802 - reads like the model it returns
        return self.env["smart_dairy.iot.device"].with_user(self.bridge)

    def assert_refused(self, batches, exception=ValidationError, user=None):
        count = self.job_count()
        with self.assertRaises(exception):
            self.env["smart_dairy.iot.device"].with_user(user or self.iot_manager).submit_readings(batches)
        self.assertEqual(self.job_count(), count, "nothing queued")

    def test_limits(self):
        one = self.reading("milk_yield", 1.0)
        self.assert_refused([{"device_id": "MM-003", "readings": [one] * 1_000_001}])
        self.assert_refused([{"device_id": "MM-003", "readings": [one] * 100_000}])
        self.assert_refused([{"device_id": "MM-003", "readings": json.dumps([one] * 100_000)}])
        # The readings of all batches count together.
        per_batch = 2000
        batches = [{"device_id": "MM-003", "readings": [one] * per_batch}] * (limits.MAX_READINGS_PER_CALL // per_batch)
        self.assert_refused(batches + [{"device_id": "MM-003", "readings": [one]}])
        self.assert_refused([{"device_id": "MM-003", "readings": [one]}] * (limits.MAX_READING_BATCHES_PER_CALL + 1))
        self.assert_refused([{"device_id": "M" * 65, "readings": [one]}])
        self.assert_refused([{"device_id": "", "readings": [one]}])
        # At the limit it is accepted.
        self.assertEqual(self.env["smart_dairy.iot.device"].with_user(self.iot_manager).submit_readings(batches),
                         limits.MAX_READINGS_PER_CALL // per_batch)

    def test_bad_input_is_refused_cleanly(self):
        for batches in (None, "MM-003", {"device_id": "MM-003"}, [None], [{"device_id": 5, "readings": []}],
                        [{"device_id": "MM-003", "readings": "{not json"}],
                        [{"device_id": "MM-003", "readings": {"metric": "milk_yield"}}],
                        [{"device_id": "MM-003", "readings": ["12.5"]}]):
            self.assert_refused(batches)

    def test_only_iot_managers_and_the_bridge_may_submit(self):
        outsider = new_test_user(self.env, "jobs_only", groups="smart_dairy_jobs.group_user")
        for user in (self.iot_user, self.user_b, outsider):
            self.assert_refused([{"device_id": "MM-003", "readings": [self.reading("milk_yield", 1.0)]}],
                                AccessError, user=user)
            self.assert_refused([], AccessError, user=user)


class TestTaskRights(TrustCase):
    def test_who_may_dispatch_the_iot_tasks(self):
        Job = self.env["smart_dairy.job"]
        jobs_manager = new_test_user(self.env, "jobs_manager", groups="smart_dairy_jobs.group_manager")
        calls = [("smart_dairy.iot.sync_device_status", []), ("smart_dairy.iot.check_critical_devices", []),
                 ("smart_dairy.aggregation.aggregate_milk_production", [])]
        for task_name, args in calls + [(PROCESS, ["MM-003", []])]:
            count = self.Job.search_count([])
            with self.assertRaises(AccessError):
                Job.with_user(self.iot_user).dispatch(task_name, args)
            self.assertEqual(self.Job.search_count([]), count)
        for user in (self.iot_manager, jobs_manager):
            for task_name, args in calls:
                self.assertEqual(Job.with_user(user).dispatch(task_name, args).company_id, self.company_a)
        with self.assertRaises(AccessError):
            Job.with_user(jobs_manager).dispatch(PROCESS, ["MM-003", []])


class TestProtectedFields(TrustCase):
    def open_alert(self):
        self.process("TANK-1", [self.reading("milk_temperature", 15.0)])
        return self.env["smart_dairy.iot.alert"].search([("device_id", "=", self.tank.id)])

    def alert_row(self, alert):
        self.env.flush_all()
        self.env.cr.execute("SELECT severity, notified_at, state, breach_count, value FROM smart_dairy_iot_alert "
                            "WHERE id = %s", [alert.id])
        return self.env.cr.fetchone()

    def test_iot_users_and_managers_cannot_silence_an_alert(self):
        alert = self.open_alert()
        before = self.alert_row(alert)
        self.assertEqual(before[:3], ("critical", None, "new"))
        for user in (self.iot_user, self.iot_manager):
            for vals in ({"severity": "info"}, {"notified_at": datetime.now()}, {"state": "resolved"},
                         {"breach_count": 0}, {"value": 4.0}, {"resolved_by_id": user.id},
                         {"severity": "info", "user_id": user.id}):
                with self.assertRaises(AccessError):
                    alert.with_user(user).write(vals)
                self.env.invalidate_all()
                self.assertEqual(self.alert_row(alert), before)
        # Assigning is theirs to do.
        alert.with_user(self.iot_user).write({"user_id": self.iot_user.id})
        self.assertEqual(alert.user_id, self.iot_user)

    def test_company_b_cannot_act_on_company_a_alerts(self):
        alert = self.open_alert()
        before = self.alert_row(alert)
        for action in ("action_acknowledge", "action_resolve"):
            with self.assertRaises(AccessError):
                getattr(alert.with_user(self.user_b), action)()
            self.assertEqual(self.alert_row(alert), before)

    def test_notify_critical_stays_in_the_callers_companies(self):
        alert = self.open_alert()
        Alert = self.env["smart_dairy.job.bridge"].with_user(self.bridge)  # the bridge API's question
        before = self.alert_row(alert)
        for bad in ("1", [alert.id, "2"], [0], None, [True], [alert.id] * (limits.MAX_DISPATCH_MANY + 1)):
            with self.assertRaises(ValidationError):
                Alert.notify_critical(bad)
        with self.assertRaises(ValidationError):
            Alert.notify_critical([alert.id], "A")
        # The bridge user works for company A only: B's health check, or an alert of A claimed for B, is refused.
        with self.assertRaises(AccessError):
            Alert.notify_critical([alert.id], self.company_b.id)
        self.bridge.company_ids = [(4, self.company_b.id)]
        with self.assertRaises(AccessError):
            Alert.notify_critical([alert.id], self.company_b.id)
        self.assertEqual(self.alert_row(alert), before)
        self.bridge.company_id = self.company_b
        self.bridge.company_ids = [(3, self.company_a.id)]
        with self.assertRaises(AccessError):
            Alert.notify_critical([alert.id])
        self.assertEqual(self.alert_row(alert), before)
        self.bridge.company_ids = [(4, self.company_a.id)]
        self.assertEqual(Alert.notify_critical([alert.id], self.company_a.id), [alert.id])
        # Only A's managers hear of it.
        self.assertIn(self.iot_manager, alert.activity_ids.user_id)
        self.assertNotIn(self.manager_b, alert.activity_ids.user_id)

    def test_device_status_is_the_workers_and_the_actions(self):
        Device = self.env["smart_dairy.iot.device"]
        before = self.device_snapshot(self.meter)
        for vals in ({"state": "online"}, {"last_seen": datetime.now()}, {"latest_values": {"milk_yield": {}}}):
            with self.assertRaises(AccessError):
                self.meter.with_user(self.iot_manager).write(vals)
            with self.assertRaises(AccessError):
                Device.with_user(self.iot_manager).create(
                    dict({"name": "x", "device_code": "X-9", "device_type": "milk_meter"}, **vals))
        self.assertEqual(self.device_snapshot(self.meter), before)
        self.assertFalse(Device.search([("device_code", "=", "X-9")]))
        # Configuration stays the manager's; maintenance goes through the actions, which check rights.
        self.meter.with_user(self.iot_manager).write({"location": "Parlour 2", "is_critical": True})
        with self.assertRaises(AccessError):
            self.meter.with_user(self.iot_user).action_start_maintenance()
        with self.assertRaises(AccessError):
            self.meter.with_user(self.manager_b).action_start_maintenance()
        self.assertEqual(self.meter.state, "offline")
        self.meter.with_user(self.iot_manager).action_start_maintenance()
        self.assertEqual(self.meter.state, "maintenance")

    def test_readings_and_production_are_written_by_workers_only(self):
        self.process("MM-003", [self.reading("milk_yield", 12.0)])
        store.aggregate_milk(self.env.cr, self.now.date(), "UTC", self.company_a.id)
        self.env.invalidate_all()
        reading = self.env["smart_dairy.iot.reading"].search([("device_id", "=", self.meter.id)])
        production = self.env["smart_dairy.iot.milk.production"].search([("device_id", "=", self.meter.id)])
        self.assertEqual((len(reading), len(production)), (1, 1))
        for user in (self.iot_user, self.iot_manager):
            with self.assertRaises(AccessError):
                reading.with_user(user).write({"value": 1.0})
            with self.assertRaises(AccessError):
                production.with_user(user).write({"quantity": 1.0})
            with self.assertRaises(AccessError):
                self.env["smart_dairy.iot.reading"].with_user(user).create({
                    "device_id": self.meter.id, "company_id": self.company_a.id, "timestamp": self.now,
                    "metric": "milk_yield", "value": 3.0})
        self.env.invalidate_all()
        self.assertEqual((reading.value, production.quantity), (12.0, 12.0))

    def test_shared_threshold_rules_are_for_administrators(self):
        shared = self.env.ref("smart_dairy_iot.threshold_tank_temperature")
        for user in (self.iot_manager, self.manager_b):
            with self.assertRaises(AccessError):
                shared.with_user(user).write({"max_value": 60})
            with self.assertRaises(AccessError):
                shared.with_user(user).unlink()
            with self.assertRaises(AccessError):
                self.env["smart_dairy.iot.threshold"].with_user(user).create({
                    "name": "shared", "device_type": "milk_tank", "metric": "milk_temperature",
                    "min_value": 0, "max_value": 90, "company_id": False})
        self.assertEqual(shared.max_value, 6)
        own = self.env["smart_dairy.iot.threshold"].with_user(self.manager_b).create({
            "name": "B's tank", "device_type": "milk_tank", "metric": "milk_temperature",
            "min_value": 1, "max_value": 5})
        self.assertEqual(own.company_id, self.company_b)
        with self.assertRaises(AccessError):
            own.with_user(self.manager_b).write({"company_id": False})
