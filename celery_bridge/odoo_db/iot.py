"""The IoT tables' hot paths, in SQL: bulk-stored readings, device status, alerts, daily milk.

Readings arrive at farm scale (thousands a second), so the workers write them straight into the
tables the Odoo addon ``smart_dairy_iot`` owns, one multi-row statement per batch, instead of one ORM
create (or XML-RPC call) per reading. Every function takes a psycopg2 cursor and leaves the commit to
the caller, so a batch's readings, alerts and device status land in one transaction; Odoo's tests call
the same functions with the cursor of their test transaction.

Every function works inside one company, the job's (``company_id``: the task passes
``self.job_company_id()``): a device is found by its code *and* company, and the sweeps, the health
check and the aggregation read and write that company's rows only. A job of company B can never store
a reading on, raise an alert for, mark offline or aggregate company A's devices.
"""
import json
from datetime import datetime, time, timedelta

import pytz
from psycopg2.extras import execute_values

from celery_bridge.core import limits
from celery_bridge.core import iot_catalog as catalog

OPEN_ALERT_STATES = ("new", "acknowledged")
ALERT_OFFLINE_KEY = "offline"


def _raw(cr):
    """psycopg2's own cursor (Odoo wraps it; execute_values needs the real one)."""
    return getattr(cr, "_obj", cr)


def process_batch(cr, device_code, raw_readings, *, company_id, now=None):
    """All of process_sensor_data's database work for one device's batch of ``company_id``: validate,
    store, check thresholds, mark the device seen. A device code of another company is unknown here.
    Returns the counts the job reports."""
    device = lock_device(cr, device_code, company_id)
    if device is None:
        return {"stored": 0, "duplicates": 0, "alerts_opened": 0,
                "rejected": {catalog.UNKNOWN_DEVICE: len(raw_readings)}}
    accepted, rejected = catalog.validate_readings(device["device_type"], raw_readings, now=now)
    stored = store_readings(cr, device, accepted)
    alerts = raise_threshold_alerts(cr, device, accepted) if accepted else 0
    if accepted:
        mark_seen(cr, device, accepted)
    return {"stored": stored, "duplicates": len(accepted) - stored, "alerts_opened": alerts,
            "rejected": dict(rejected)}


def _company(company_id):
    # A worker query without a company would reach every company's rows: refuse rather than guess.
    if not isinstance(company_id, int) or isinstance(company_id, bool) or company_id <= 0:
        raise ValueError(f"a company id is required, not {company_id!r}")
    return company_id


def lock_device(cr, device_code, company_id):
    """The device row of ``company_id`` (locked for this transaction, so one device's batches settle
    one after the other), or None when no active device of that company has that id."""
    cr.execute(
        """SELECT id, name, device_type, state, last_seen, latest_values, company_id, is_critical
             FROM smart_dairy_iot_device
            WHERE device_code = %s AND company_id = %s AND active
              FOR UPDATE""",
        [device_code, _company(company_id)],
    )
    row = cr.fetchone()
    if row is None:
        return None
    keys = ("id", "name", "device_type", "state", "last_seen", "latest_values", "company_id", "is_critical")
    return dict(zip(keys, row))


def store_readings(cr, device, readings):
    """Insert the readings in one statement; a reading already stored (same device, metric and
    time: a redelivered message) is skipped. Returns how many rows were new."""
    if not readings:
        return 0
    rows = [(device["id"], device["company_id"], r.timestamp, r.metric, r.value, r.unit) for r in readings]
    inserted = execute_values(
        _raw(cr),
        """INSERT INTO smart_dairy_iot_reading (device_id, company_id, timestamp, metric, value, unit, stored_at)
           VALUES %s
           ON CONFLICT (device_id, metric, timestamp) DO NOTHING
           RETURNING 1""",
        rows,
        template="(%s, %s, %s, %s, %s, %s, clock_timestamp() AT TIME ZONE 'UTC')",
        page_size=1000,
        fetch=True,
    )
    return len(inserted)


def applicable_rules(cr, device, metrics):
    """Active threshold rules for this device, or for its type, on the given metrics."""
    cr.execute(
        """SELECT id, metric, min_value::float8, max_value::float8, severity, name
             FROM smart_dairy_iot_threshold
            WHERE active AND metric = ANY(%s)
              AND (device_id = %s OR (device_id IS NULL AND device_type = %s))
              AND (company_id IS NULL OR company_id = %s)""",
        [list(metrics), device["id"], device["device_type"], device["company_id"]],
    )
    return cr.fetchall()


def raise_threshold_alerts(cr, device, readings):
    """Open an alert per breached rule, or update the one already open for that device and rule.

    The partial unique index on open alerts makes this race-free: two batches breaching the same
    rule at once leave one alert with both breaches counted. Returns the number of new alerts.
    """
    rules = applicable_rules(cr, device, {r.metric for r in readings})
    if not rules:
        return 0
    worst = catalog.breaches(readings, [(rid, metric, low, high) for rid, metric, low, high, _sev, _n in rules])
    rows = []
    for rule_id, metric, low, high, severity, rule_name in rules:
        reading = worst.get(rule_id)
        if reading is None:
            continue
        side = "below" if low is not None and reading.value < low else "above"
        bound = low if side == "below" else high
        message = f"{catalog.METRICS[metric].label} {reading.value:g} {reading.unit} is {side} {bound:g} ({rule_name})"
        rows.append((
            f"{device['name']}: {message}", device["id"], device["company_id"], f"rule:{rule_id}", metric,
            reading.value, rule_id, severity, reading.timestamp, reading.timestamp, message,
        ))
    if not rows:
        return 0
    return _upsert_alerts(cr, "threshold", rows)


def _upsert_alerts(cr, alert_type, rows):
    created = execute_values(
        _raw(cr),
        f"""INSERT INTO smart_dairy_iot_alert AS alert
                (name, device_id, company_id, dedup_key, metric, value, threshold_id, severity,
                 raised_at, last_breach_at, message, alert_type, state, breach_count,
                 create_date, write_date)
            VALUES %s
            ON CONFLICT (device_id, dedup_key) WHERE state IN {OPEN_ALERT_STATES!r}
            DO UPDATE SET value = EXCLUDED.value,
                          message = EXCLUDED.message,
                          last_breach_at = GREATEST(alert.last_breach_at, EXCLUDED.last_breach_at),
                          breach_count = alert.breach_count + 1,
                          write_date = EXCLUDED.write_date
            RETURNING (xmax = 0)""",
        rows,
        template=(
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            f"'{alert_type}', 'new', 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')"
        ),
        fetch=True,
    )
    return sum(1 for (is_new,) in created if is_new)


def mark_seen(cr, device, readings):
    """Device online (unless in maintenance), last seen and latest value per metric, keeping a newer
    value another batch already wrote. Coming back online resolves its open offline alert."""
    latest = dict(device["latest_values"] or {})
    for reading in readings:
        known = latest.get(reading.metric)
        stamp = reading.timestamp.isoformat(sep=" ", timespec="seconds")
        if known is None or known.get("ts", "") <= stamp:
            latest[reading.metric] = {"value": reading.value, "unit": reading.unit, "ts": stamp}
    newest = max(r.timestamp for r in readings)
    cr.execute(
        """UPDATE smart_dairy_iot_device
              SET latest_values = %s,
                  last_seen = GREATEST(last_seen, %s),
                  state = CASE WHEN state = 'maintenance' THEN state ELSE 'online' END,
                  write_date = now() AT TIME ZONE 'UTC'
            WHERE id = %s""",
        [json.dumps(latest), newest, device["id"]],
    )
    if device["state"] == "offline":
        cr.execute(
            """UPDATE smart_dairy_iot_alert
                  SET state = 'resolved', resolved_at = now() AT TIME ZONE 'UTC',
                      message = message || ' — back online',
                      write_date = now() AT TIME ZONE 'UTC'
                WHERE device_id = %s AND dedup_key = %s AND state IN %s""",
            [device["id"], ALERT_OFFLINE_KEY, OPEN_ALERT_STATES],
        )


def mark_silent_devices_offline(cr, company_id, minutes=catalog.OFFLINE_AFTER_MINUTES, now=None):
    """Online devices of ``company_id`` silent for ``minutes`` go offline, each with an alert
    (critical for devices marked critical). Returns the device ids that went offline."""
    now = now or datetime.utcnow()
    cr.execute(
        """UPDATE smart_dairy_iot_device
              SET state = 'offline', write_date = %s
            WHERE state = 'online' AND active AND company_id = %s AND (last_seen IS NULL OR last_seen < %s)
        RETURNING id, name, company_id, is_critical, last_seen""",
        [now, _company(company_id), now - timedelta(minutes=minutes)],
    )
    gone = cr.fetchall()
    rows = []
    for device_id, name, company_id, is_critical, last_seen in gone:
        seen = last_seen.isoformat(sep=" ", timespec="seconds") if last_seen else "never"
        message = f"no reading for {minutes} min (last seen {seen} UTC)"
        rows.append((
            f"{name}: offline", device_id, company_id, ALERT_OFFLINE_KEY, None, None, None,
            "critical" if is_critical else "warning", now, now, message,
        ))
    if rows:
        _upsert_alerts(cr, "offline", rows)
    return [row[0] for row in gone]


def critical_alerts_to_notify(cr, company_id, limit=limits.MAX_DISPATCH_MANY):
    """Open critical alerts of ``company_id`` nobody was told about yet, oldest first, at most
    ``limit`` (what notify_critical takes in one call; the next health check takes the rest)."""
    cr.execute(
        """SELECT id FROM smart_dairy_iot_alert
            WHERE severity = 'critical' AND state IN %s AND notified_at IS NULL AND company_id = %s
            ORDER BY id LIMIT %s""",
        [OPEN_ALERT_STATES, _company(company_id), limit],
    )
    return [row[0] for row in cr.fetchall()]


def day_bounds_utc(day, tz_name):
    """The farm's calendar day as a naive-UTC [start, end) range."""
    zone = pytz.timezone(tz_name)
    start = zone.localize(datetime.combine(day, time.min))
    end = zone.localize(datetime.combine(day + timedelta(days=1), time.min))
    return (start.astimezone(pytz.utc).replace(tzinfo=None), end.astimezone(pytz.utc).replace(tzinfo=None))


def aggregate_milk(cr, day, tz_name, company_id):
    """Recompute the day's milk per device of ``company_id`` from its readings: rows updated in place
    (same ids when run again), that company's devices without milk that day dropped; other companies'
    rows are neither read nor written. Returns {device_id: litres}."""
    company_id = _company(company_id)
    start, end = day_bounds_utc(day, tz_name)
    # The reading's company and its device's must both be the job's: a reading stored before a device
    # changed company stays out of both companies' totals rather than leak into one.
    cr.execute(
        """INSERT INTO smart_dairy_iot_milk_production AS production
                (device_id, company_id, day, quantity, reading_count, first_reading, last_reading)
           SELECT reading.device_id, reading.company_id, %s, SUM(reading.value), COUNT(*),
                  MIN(reading.timestamp), MAX(reading.timestamp)
             FROM smart_dairy_iot_reading reading
             JOIN smart_dairy_iot_device device ON device.id = reading.device_id
            WHERE reading.metric = %s AND reading.timestamp >= %s AND reading.timestamp < %s
              AND reading.company_id = %s AND device.company_id = %s
            GROUP BY reading.device_id, reading.company_id
           ON CONFLICT (device_id, day) DO UPDATE
              SET quantity = EXCLUDED.quantity, reading_count = EXCLUDED.reading_count,
                  first_reading = EXCLUDED.first_reading, last_reading = EXCLUDED.last_reading
            WHERE production.company_id = EXCLUDED.company_id
        RETURNING device_id, quantity::float8""",
        [day, catalog.MILK_METRIC, start, end, company_id, company_id],
    )
    totals = dict(cr.fetchall())
    cr.execute(
        """DELETE FROM smart_dairy_iot_milk_production
            WHERE day = %s AND company_id = %s AND NOT (device_id = ANY(%s))""",
        [day, company_id, list(totals)],
    )
    return totals
