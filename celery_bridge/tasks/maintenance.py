"""Maintenance of spec B-009 §5.1 on celery:low: old data out in small batches, nightly database dumps."""
import os
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from psycopg2.extensions import parse_dsn

from celery_bridge.odoo_db import connection as db
from celery_bridge.odoo_db import maintenance
from celery_bridge.core import errors
from celery_bridge.worker import runtime
from celery_bridge.celery import app
from celery_bridge.worker.odoo_client import get_client
from celery_bridge.core.scrub import hide_url_passwords, redact

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
    """pg_dump (custom format) of Odoo's database into BACKUP_DIR, keeping the newest ``keep`` dumps."""
    settings = runtime.settings()
    keep = settings.backup_keep if keep is None else int(keep)
    if keep < 1:
        raise errors.InvalidInput("keep must be at least 1")
    params = parse_dsn(db.database_dsn(settings))
    dbname = params.get("dbname") or settings.odoo_db
    folder = Path(settings.backup_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.PermissionDenied(f"cannot create {folder}: {exc.strerror}") from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")  # to the microsecond: names never collide
    target = folder / f"{dbname}-{stamp}.dump"
    partial = target.with_suffix(".dump.part")
    env = dict(os.environ)
    if params.get("password"):
        env["PGPASSWORD"] = params["password"]  # never on the command line, where ps would show it
    command = ["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={dbname}"]
    for key, flag in (("host", "--host"), ("port", "--port"), ("user", "--username")):
        if params.get(key):
            command.append(f"{flag}={params[key]}")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3300)
    if result.returncode:
        partial.unlink(missing_ok=True)
        first_line = (result.stderr.strip().splitlines() or ["no message"])[0]
        first_line = redact(hide_url_passwords(first_line), [params.get("password")])  # never the password
        raise errors.JobError(f"pg_dump failed ({result.returncode}): {first_line[:300]}")
    partial.rename(target)
    pattern = re.compile(rf"^{re.escape(dbname)}-\d{{8}}T\d{{12}}Z\.dump$")
    dumps = sorted((p for p in folder.iterdir() if pattern.match(p.name)), key=lambda p: p.name, reverse=True)
    removed = []
    for old in dumps[keep:]:
        old.unlink()
        removed.append(old.name)
    return {"file": str(target), "bytes": target.stat().st_size, "kept": min(len(dumps), keep), "removed": removed}
