"""Issue 19: IoT tasks retry after up to 2^n × 10 s (B-009 §3.2), the aggregation with §2.2's 60 s
delay; for the task types this addon seeded that still hold the values first shipped."""
from odoo.addons.smart_dairy_jobs.engine.seed_updates import update_unchanged

IOT_DELAY = {"retry_backoff_base": (2.0, 10.0)}
CHANGES = {
    "task_iot_process_sensor_data": IOT_DELAY,
    "task_iot_sync_device_status": IOT_DELAY,
    "task_iot_check_critical_devices": IOT_DELAY,
    "task_aggregation_daily_milk_production": {"retry_backoff_base": (2.0, 60.0)},
}


def migrate(cr, version):
    update_unchanged(cr, "smart_dairy_iot", CHANGES)
