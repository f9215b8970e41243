"""What the farm's devices may report, and how a reading is judged before it is stored.

Shared by the Odoo addon (selections, default threshold bands) and the workers (validation), so
that a metric the ERP offers is exactly a metric the workers accept.
"""
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

MILK_METER = "milk_meter"
MILK_TANK = "milk_tank"
ACTIVITY_COLLAR = "activity_collar"
ENVIRONMENT_SENSOR = "environment_sensor"

DEVICE_TYPES = [
    (MILK_METER, "Milk meter"),
    (MILK_TANK, "Milk tank / temperature"),
    (ACTIVITY_COLLAR, "Activity collar"),
    (ENVIRONMENT_SENSOR, "Environment sensor"),
]


class Metric(NamedTuple):
    name: str
    label: str
    unit: str
    physical_min: float  # outside this band the sensor is broken, not the cow or the tank
    physical_max: float
    device_types: tuple


METRICS = {
    metric.name: metric
    for metric in (
        Metric("milk_yield", "Milk yield", "L", 0.0, 80.0, (MILK_METER,)),
        Metric("milk_flow", "Milk flow", "L/min", 0.0, 15.0, (MILK_METER,)),
        Metric("conductivity", "Milk conductivity", "mS/cm", 0.0, 20.0, (MILK_METER,)),
        Metric("fat", "Fat content", "%", 0.0, 15.0, (MILK_METER,)),
        Metric("milk_temperature", "Milk temperature", "°C", -5.0, 60.0, (MILK_METER, MILK_TANK)),
        Metric("tank_level", "Tank level", "L", 0.0, 100000.0, (MILK_TANK,)),
        Metric("activity", "Activity", "steps/h", 0.0, 10000.0, (ACTIVITY_COLLAR,)),
        Metric("rumination", "Rumination", "min/h", 0.0, 60.0, (ACTIVITY_COLLAR,)),
        Metric("body_temperature", "Body temperature", "°C", 30.0, 45.0, (ACTIVITY_COLLAR,)),
        Metric("temperature", "Air temperature", "°C", -40.0, 70.0, (ENVIRONMENT_SENSOR,)),
        Metric("humidity", "Relative humidity", "%", 0.0, 100.0, (ENVIRONMENT_SENSOR,)),
        Metric("ammonia", "Ammonia", "ppm", 0.0, 500.0, (ENVIRONMENT_SENSOR,)),
        Metric("battery", "Battery", "%", 0.0, 100.0,
               (MILK_METER, MILK_TANK, ACTIVITY_COLLAR, ENVIRONMENT_SENSOR)),
    )
}
METRIC_SELECTION = [(metric.name, f"{metric.label} ({metric.unit})") for metric in METRICS.values()]

# Reasons a reading is turned away; counted per reason in the task's result.
UNKNOWN_DEVICE = "unknown_device"
BAD_SHAPE = "bad_shape"
BAD_METRIC = "bad_metric"
BAD_VALUE = "bad_value"
OUT_OF_RANGE = "out_of_physical_range"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
REJECT_REASONS = (UNKNOWN_DEVICE, BAD_SHAPE, BAD_METRIC, BAD_VALUE, OUT_OF_RANGE, BAD_TIMESTAMP, FUTURE_TIMESTAMP)

# Gateways' clocks drift; a reading a little ahead of ours is still believed.
CLOCK_SKEW = timedelta(seconds=60)
OFFLINE_AFTER_MINUTES = 5
MILK_METRIC = "milk_yield"


class Reading(NamedTuple):
    metric: str
    value: float
    timestamp: datetime  # naive UTC, as Odoo stores datetimes
    unit: str


def parse_timestamp(raw):
    """A reading's time from epoch seconds or ISO 8601 (naive means UTC), as naive UTC."""
    if isinstance(raw, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise ValueError("not a finite time")
        moment = datetime.fromtimestamp(raw, timezone.utc)
    elif isinstance(raw, str):
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    else:
        raise ValueError("missing time")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def validate_readings(device_type, readings, now=None):
    """Split raw readings into the ones to store and a count of rejections by reason."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    accepted, rejected = [], Counter()
    if not isinstance(readings, list):
        rejected[BAD_SHAPE] += 1
        return accepted, rejected
    for raw in readings:
        reason, reading = _judge(device_type, raw, now)
        if reason:
            rejected[reason] += 1
        else:
            accepted.append(reading)
    return accepted, rejected


def _judge(device_type, raw, now):
    if isinstance(raw, (list, tuple)) and 3 <= len(raw) <= 4:
        # The compact form the ingestion bridge sends: [metric, value, ts(, unit)].
        raw = dict(zip(("metric", "value", "ts", "unit"), raw))
    if not isinstance(raw, dict):
        return BAD_SHAPE, None
    metric = METRICS.get(raw.get("metric"))
    if metric is None or device_type not in metric.device_types:
        return BAD_METRIC, None
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return BAD_VALUE, None
    if not metric.physical_min <= value <= metric.physical_max:
        return OUT_OF_RANGE, None
    if raw.get("unit") not in (None, metric.unit):
        return BAD_VALUE, None
    try:
        moment = parse_timestamp(raw.get("ts", raw.get("timestamp")))
    except (ValueError, OverflowError, OSError):
        return BAD_TIMESTAMP, None
    if moment > now + CLOCK_SKEW:
        return FUTURE_TIMESTAMP, None
    return None, Reading(metric.name, float(value), moment, metric.unit)


def compact(reading):
    """A raw reading dict as [metric, value, ts(, unit)]: a third of the bytes in XML-RPC and job args."""
    row = [reading.get("metric"), reading.get("value"), reading.get("ts", reading.get("timestamp"))]
    if reading.get("unit") is not None:
        row.append(reading["unit"])
    return row


def breaches(readings, rules):
    """The worst reading outside each rule's band: {rule_id: Reading}.

    ``rules`` are (rule_id, metric, min_value, max_value) tuples; a None bound is not checked.
    """
    worst = {}
    for rule_id, metric, low, high in rules:
        for reading in readings:
            if reading.metric != metric:
                continue
            distance = max(
                (low - reading.value) if low is not None else float("-inf"),
                (reading.value - high) if high is not None else float("-inf"),
            )
            if distance > 0 and (rule_id not in worst or distance > worst[rule_id][0]):
                worst[rule_id] = (distance, reading)
    return {rule_id: reading for rule_id, (_distance, reading) in worst.items()}
