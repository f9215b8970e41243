"""Maintenance of spec B-009 §5.1 on celery:low: old data out in small batches, nightly backups."""
from datetime import datetime, timedelta, timezone

from celery_bridge.odoo_db import backup, maintenance
from celery_bridge.core import errors
from celery_bridge.worker import runtime
from celery_bridge.celery import app
from celery_bridge.worker.odoo_client import get_client

@app.task(bind=True, name="smart_dairy.maintenance.cleanup_old_data")
def cleanup_old_data(self, days_to_keep=90, batch_size=1000):
    """Delete finished jobs, settled dead letters and readings older than ``days_to_keep`` days.

    Jobs and dead letters go through Odoo (their files and links go with them), ``batch_size`` per
    call; readings are deleted here in SQL batches. Open dead letters and their jobs are kept.
    """
    if not isinstance(days_to_keep, int) or days_to_keep < 1:
        raise errors.InvalidInput("days_to_keep must be a positive whole number of days")
    company_id = self.job_company_id()  # only this company's old data goes
    settings = runtime.settings()
    client = get_client(settings)
    removed = {}
    for kind in ("dead_letters", "jobs"):
        removed[kind] = 0
        while True:
            count = client.ask("cleanup_batch", self.request.id, kind, days_to_keep, batch_size)
            removed[kind] += count
            if count < batch_size:
                break
    self.report_progress(66, "jobs and dead letters done")
    cutoff = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days_to_keep)
    removed["readings"] = maintenance.delete_old_readings(settings, cutoff, company_id)
    return {"days_to_keep": days_to_keep, "company_id": company_id, "removed": removed}


@app.task(bind=True, name="smart_dairy.maintenance.backup_database")
def backup_database(self, keep=None):
    """A backup into BACKUP_DIR: pg_dump (custom format) of Odoo's database and a tar of its filestore
    (ODOO_DATA_DIR/filestore/<db>), keeping the newest ``keep`` backups."""
    settings = runtime.settings()
    return backup.back_up(settings, settings.backup_keep if keep is None else int(keep))
