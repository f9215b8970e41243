"""Schemas of the IoT tasks (smart_dairy_iot). Single readings are judged by the IoT catalog, which
counts each bad one by reason; the schema bounds the batch's shape and size."""
from celery_bridge.core.limits import MAX_DEVICE_ID_LENGTH, MAX_READINGS_PER_JOB
from celery_bridge.core.schemas import call_schema, register
from celery_bridge.core.schemas._types import DATE, number, optional, text

__all__ = ["MAX_DEVICE_ID_LENGTH", "MAX_READINGS_PER_JOB"]  # also imported from here by the IoT addon
READING = {"anyOf": [
    {"type": "array", "minItems": 2, "maxItems": 4},
    {"type": "object", "maxProperties": 8},
]}

register("smart_dairy.iot.process_sensor_data", call_schema(
    [("device_id", text(MAX_DEVICE_ID_LENGTH, 1)), ("readings", {"type": "array", "maxItems": MAX_READINGS_PER_JOB, "items": READING})],
    required=["device_id", "readings"]))
register("smart_dairy.iot.sync_device_status", call_schema([("offline_after_minutes", number(0, 10080, True))]))
register("smart_dairy.iot.check_critical_devices", call_schema())
register("smart_dairy.aggregation.aggregate_milk_production", call_schema(
    [("day", optional(DATE)), ("period", {"enum": ["daily"]})]))
