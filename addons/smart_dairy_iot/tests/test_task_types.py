import pytz

from odoo.tests import TransactionCase

from celery_bridge.core import errors

DHAKA = pytz.timezone("Asia/Dhaka")


class TestTaskTypes(TransactionCase):
    """This addon seeds its own task types and schedules (the jobs addon seeds none of them)."""

    def test_b009_iot_schedules(self):
        aggregation = self.env.ref("smart_dairy_iot.schedule_daily_milk_aggregation")
        local = pytz.utc.localize(aggregation.nextcall).astimezone(DHAKA)
        self.assertEqual((local.hour, local.minute, aggregation.interval_number, aggregation.interval_type),
                         (0, 0, 1, "days"))
        self.assertEqual(aggregation.queue_id.name, "celery")
        health = self.env.ref("smart_dairy_iot.schedule_health_check_notifications")
        self.assertEqual((health.interval_number, health.interval_type, health.queue_id.name),
                         (5, "minutes", "celery:iot"))
        status = self.env.ref("smart_dairy_iot.schedule_sync_device_status")
        for schedule in (aggregation, health, status):
            self.assertTrue(schedule.cron_active, schedule.name)
            self.assertTrue(schedule.task_type_id.active, schedule.name)
            self.assertEqual(schedule.user_id, self.env.ref("base.user_admin"), schedule.name)

    def test_the_iot_task_types_are_this_addons(self):
        Data = self.env["ir.model.data"]
        for name in ("smart_dairy.iot.process_sensor_data", "smart_dairy.iot.sync_device_status",
                     "smart_dairy.iot.check_critical_devices", "smart_dairy.aggregation.aggregate_milk_production"):
            task = self.env["smart_dairy.job.task"].search([("name", "=", name)])
            self.assertEqual(Data.search([("model", "=", task._name), ("res_id", "=", task.id)]).module,
                             "smart_dairy_iot", name)
            self.assertEqual(task.queue_id.name, "celery" if "aggregation" in name else "celery:iot", name)

    def test_retries_are_the_specs(self):
        Task = self.env["smart_dairy.job.task"]
        for name in ("smart_dairy.iot.process_sensor_data", "smart_dairy.iot.sync_device_status",
                     "smart_dairy.iot.check_critical_devices"):
            task = Task.search([("name", "=", name)])
            # B-009 §3.1 IoT: 5 retries; §3.2: countdown=2 ** retries * 10 (here the ceiling of full jitter).
            self.assertEqual((task.max_retries, task.retry_backoff_base, task.retry_backoff), (5, 10.0, True), name)
            policy = task._retry_policy()
            self.assertEqual([errors.backoff_ceiling(n, policy) for n in range(5)], [10, 20, 40, 80, 160], name)
        aggregation = Task.search([("name", "=", "smart_dairy.aggregation.aggregate_milk_production")])
        self.assertEqual((aggregation.max_retries, aggregation.retry_backoff_base), (3, 60.0))  # §3.1, §2.2
