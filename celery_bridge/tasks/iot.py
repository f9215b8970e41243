"""IoT tasks of spec B-009 §3.2 on celery:iot (30 s, 5 retries): readings in, alerts and status out.

They write the ``smart_dairy_iot`` addon's tables directly and in bulk (see celery_bridge.odoo_db.iot);
only the critical-alert notification goes through Odoo, where mail and activities live. Each works in
the job's company only (``self.job_company_id()``): a device code, a sweep, the health check and the
daily aggregation never reach another company's devices.
"""
import logging
from datetime import date, datetime, timedelta

import pytz

from celery_bridge.odoo_db import connection as db
from celery_bridge.core import errors
from celery_bridge.worker import runtime
from celery_bridge.celery import app
from celery_bridge.core import iot_catalog as catalog
from celery_bridge.odoo_db import iot as store
from celery_bridge.worker.odoo_client import get_client

_logger = logging.getLogger(__name__)


@app.task(bind=True, name="smart_dairy.iot.process_sensor_data")
def process_sensor_data(self, device_id, readings):
    """Validate a device's readings, store the good ones, raise alerts, mark the device online."""
    if not isinstance(device_id, str) or not isinstance(readings, list):
        raise errors.InvalidInput("process_sensor_data(device_id: str, readings: list)")

    company_id = self.job_company_id()
    counts = db.run_in_transaction(
        runtime.settings(), lambda cr: store.process_batch(cr, device_id, readings, company_id=company_id))
    if counts["rejected"]:
        _logger.info("device %s: %d reading(s) rejected %s", device_id, sum(counts["rejected"].values()),
                     counts["rejected"])
    return dict(counts, device_id=device_id, received=len(readings))


@app.task(bind=True, name="smart_dairy.iot.sync_device_status")
def sync_device_status(self, offline_after_minutes=catalog.OFFLINE_AFTER_MINUTES):
    """Devices silent for ``offline_after_minutes`` go offline, each with an alert."""
    minutes = float(offline_after_minutes)
    if minutes <= 0:
        raise errors.InvalidInput("offline_after_minutes must be positive")
    company_id = self.job_company_id()
    went_offline = db.run_in_transaction(
        runtime.settings(), lambda cr: store.mark_silent_devices_offline(cr, company_id, minutes=minutes))
    return {"offline": len(went_offline), "device_ids": went_offline}


@app.task(bind=True, name="smart_dairy.iot.check_critical_devices")
def check_critical_devices(self):
    """The 5-minute health check: tell the IoT managers of open critical alerts (silent devices get
    theirs from sync_device_status, every minute)."""
    company_id = self.job_company_id()
    alert_ids = db.run_in_transaction(runtime.settings(), lambda cr: store.critical_alerts_to_notify(cr, company_id))
    # Odoo checks again that every alert is of this company and one the bridge user may see.
    notified = get_client(runtime.settings()).ask("notify_critical", alert_ids, company_id) if alert_ids else []
    return {"critical_open": len(alert_ids), "notified": len(notified)}


@app.task(bind=True, name="smart_dairy.aggregation.aggregate_milk_production")
def aggregate_milk_production(self, day=None, period="daily"):
    """Milk per device for one farm day (default: yesterday in the farm's time zone). Running it again
    for the same day rewrites the same rows, so a retry or a manual rerun is harmless."""
    if period != "daily":
        raise errors.InvalidInput(f"only daily aggregation exists, not {period!r}")
    settings = runtime.settings()
    try:
        zone = pytz.timezone(settings.farm_timezone)
    except pytz.UnknownTimeZoneError:
        raise errors.InvalidInput(f"unknown farm_timezone {settings.farm_timezone!r}") from None
    if day is None:
        target = datetime.now(zone).date() - timedelta(days=1)
    else:
        try:
            target = date.fromisoformat(str(day))
        except ValueError:
            raise errors.InvalidInput(f"day must be YYYY-MM-DD, got {day!r}") from None
    company_id = self.job_company_id()
    totals = db.run_in_transaction(settings, lambda cr: store.aggregate_milk(cr, target, zone.zone, company_id))
    return {"day": target.isoformat(), "devices": len(totals), "litres": round(sum(totals.values()), 3)}
