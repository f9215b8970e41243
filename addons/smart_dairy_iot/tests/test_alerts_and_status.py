from datetime import timedelta

from odoo.exceptions import AccessError, UserError

from celery_bridge.odoo_db import iot as store

from .common import SmartDairyIotCase


class TestAlerts(SmartDairyIotCase):
    def open_alerts(self, device):
        return self.env["smart_dairy.iot.alert"].search([("device_id", "=", device.id),
                                                         ("state", "in", ("new", "acknowledged"))])

    def test_breach_raises_exactly_one_alert_per_rule(self):
        rule = self.env.ref("smart_dairy_iot.threshold_tank_temperature")
        self.assertEqual(self.process("TANK-1", [self.reading("milk_temperature", 4.0, 50)])["alerts_opened"], 0)
        result = self.process("TANK-1", [self.reading("milk_temperature", 7.5, 40),
                                         self.reading("milk_temperature", 9.0, 30)])
        self.assertEqual(result["alerts_opened"], 1)
        alert = self.open_alerts(self.tank)
        self.assertEqual(len(alert), 1)
        self.assertEqual((alert.threshold_id, alert.severity, alert.value, alert.breach_count, alert.state),
                         (rule, "critical", 9.0, 1, "new"))
        self.assertIn("above 6", alert.message)
        # Another breaching batch updates the open alert instead of opening a second one.
        self.assertEqual(self.process("TANK-1", [self.reading("milk_temperature", 8.0, 20)])["alerts_opened"], 0)
        alert.invalidate_recordset()
        self.assertEqual((len(self.open_alerts(self.tank)), alert.breach_count, alert.value), (1, 2, 8.0))
        # Once resolved, a new breach opens a new alert.
        alert.with_user(self.iot_user).action_resolve()
        self.assertEqual(self.process("TANK-1", [self.reading("milk_temperature", 1.0, 10)])["alerts_opened"], 1)
        fresh = self.open_alerts(self.tank)
        self.assertNotEqual(fresh, alert)
        self.assertIn("below 2", fresh.message)

    def test_device_rule_and_type_rule_both_apply(self):
        self.env["smart_dairy.iot.threshold"].create({
            "name": "Stall 3 is sensitive", "device_id": self.meter.id, "device_type": "milk_meter",
            "metric": "conductivity", "min_value": 3, "max_value": 5.5, "severity": "critical"})
        self.assertEqual(self.process("MM-003", [self.reading("conductivity", 6.0)])["alerts_opened"], 1)
        self.assertEqual(self.process("MM-003", [self.reading("conductivity", 7.0, 1)])["alerts_opened"], 1)
        self.assertEqual(sorted(self.open_alerts(self.meter).mapped("severity")), ["critical", "warning"])

    def test_acknowledge_then_resolve(self):
        self.process("TANK-1", [self.reading("milk_temperature", 12.0)])
        alert = self.open_alerts(self.tank).with_user(self.iot_user)
        alert.action_acknowledge()
        self.assertEqual((alert.state, alert.acknowledged_by_id, alert.user_id), ("acknowledged", self.iot_user,
                                                                                    self.iot_user))
        with self.assertRaises(UserError):
            alert.action_acknowledge()
        alert.action_resolve()
        self.assertEqual((alert.state, alert.resolved_by_id), ("resolved", self.iot_user))
        self.assertTrue(alert.resolved_at)
        with self.assertRaises(UserError):
            alert.action_resolve()
        self.assertIn("Resolved", " ".join(alert.sudo().message_ids.tracking_value_ids.mapped("new_value_char")))


class TestDeviceStatus(SmartDairyIotCase):
    def test_silence_turns_device_offline_with_one_alert(self):
        self.process("TANK-1", [self.reading("milk_temperature", 4.0, 360)])  # 6 minutes ago
        self.process("MM-003", [self.reading("milk_yield", 8.0, 60)])        # 1 minute ago
        self.assertEqual((self.tank.state, self.meter.state), ("online", "online"))
        self.env.flush_all()
        gone = store.mark_silent_devices_offline(self.env.cr, self.env.company.id, minutes=5)
        self.assertEqual(gone, [self.tank.id])
        self.assertEqual(store.mark_silent_devices_offline(self.env.cr, self.env.company.id, minutes=5), [])
        self.env.invalidate_all()
        self.assertEqual((self.tank.state, self.meter.state), ("offline", "online"))
        alert = self.env["smart_dairy.iot.alert"].search([("device_id", "=", self.tank.id)])
        self.assertEqual((len(alert), alert.alert_type, alert.severity), (1, "offline", "critical"))
        # A reading brings it back online and closes the offline alert.
        self.process("TANK-1", [self.reading("milk_temperature", 4.0)])
        alert.invalidate_recordset()
        self.assertEqual((self.tank.state, alert.state), ("online", "resolved"))

    def test_maintenance_devices_never_go_offline(self):
        self.process("TANK-1", [self.reading("milk_temperature", 4.0, 3600)])
        self.tank.action_start_maintenance()
        self.env.flush_all()
        self.assertEqual(store.mark_silent_devices_offline(self.env.cr, self.env.company.id, minutes=5), [])

    def test_critical_alerts_notified_once_to_iot_managers(self):
        self.process("TANK-1", [self.reading("milk_temperature", 15.0)])
        self.process("MM-003", [self.reading("conductivity", 9.0)])  # a warning: not notified
        self.env.flush_all()
        to_notify = store.critical_alerts_to_notify(self.env.cr, self.env.company.id)
        alert = self.env["smart_dairy.iot.alert"].browse(to_notify)
        self.assertEqual(alert.device_id, self.tank)
        Bridge = self.env["smart_dairy.job.bridge"]
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        self.assertEqual(Bridge.with_user(bridge).notify_critical(to_notify), to_notify)
        self.assertEqual(Bridge.with_user(bridge).notify_critical(to_notify), [])
        self.assertTrue(alert.notified_at)
        activity_users = alert.activity_ids.user_id
        self.assertIn(self.iot_manager, activity_users)
        self.assertNotIn(self.iot_user, activity_users)
        self.assertIn(self.iot_manager.partner_id, alert.message_partner_ids)
        self.env.flush_all()
        self.assertEqual(store.critical_alerts_to_notify(self.env.cr, self.env.company.id), [])
        with self.assertRaises(AccessError):
            Bridge.with_user(self.iot_manager).notify_critical(to_notify)

    def test_offline_threshold_is_the_spec_five_minutes(self):
        self.process("MM-003", [self.reading("milk_yield", 8.0, 4 * 60)])
        self.env.flush_all()
        self.assertEqual(store.mark_silent_devices_offline(self.env.cr, self.env.company.id), [])
        self.assertEqual(store.mark_silent_devices_offline(self.env.cr, self.env.company.id, now=self.now + timedelta(minutes=2)),
                         [self.meter.id])
