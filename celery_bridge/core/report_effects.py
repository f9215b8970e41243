"""What an applied report does to a job, as field values, decided without Odoo.

Odoo's write-back (addons/smart_dairy_jobs/engine/writeback.py) judges each report with
jobstate.judge_report, then writes what these functions return. Times are naive UTC datetimes;
``lease_end`` is Odoo's clock plus the task type's lease (leases are judged in Odoo).
"""
import json
from datetime import timedelta

from celery_bridge.core import jobstate

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def logged(attempt_log, attempt, now, **entry):
    """The attempt log (JSON text) with one more entry for ``attempt``."""
    log = json.loads(attempt_log or "[]")
    log.append(dict(entry, attempt=attempt, at=now.strftime(DATETIME_FORMAT)))
    return json.dumps(log)


def vals_from_report(report, *, at, now, lease_end, date_enqueued, attempt_log, attempt):
    """Field values for a report that is not a failure (those go through the retry policy).

    ``at`` is the report's own time (or now if it has none)."""
    state = report["state"]
    if state == jobstate.HEARTBEAT:
        return {"lease_expires_at": lease_end}
    if state == jobstate.PROGRESS:
        return {"progress": report.get("progress") or 0, "progress_message": report.get("progress_message") or False}
    if state == jobstate.STARTED:
        wait = (at - date_enqueued).total_seconds() if date_enqueued else 0.0
        return {"state": state, "date_started": at, "worker_hostname": report.get("worker") or False,
                "held_by_worker": False,
                "progress": 0, "progress_message": False, "lease_expires_at": lease_end,
                "wait_time": max(0.0, wait)}
    if state == jobstate.RETRY:  # deferred by the worker without running
        return {"state": state, "eta": at + timedelta(seconds=float(report.get("retry_in") or 0)),
                "lease_expires_at": False,
                "attempt_log": logged(attempt_log, attempt, now, outcome="deferred",
                                      reason=report.get("deferred_reason") or "")}
    return {"state": state, "date_done": at, "duration": float(report.get("runtime") or 0.0),
            "result_json": report.get("result", "null"), "progress": 100, "error_type": False,
            "error_message": False, "error_traceback": False, "lease_expires_at": False}


def failure_vals(report, error_type):
    """The values every failed attempt writes, whether it is retried or not."""
    return {
        "error_type": error_type,
        "error_message": report.get("error_message") or False,
        "error_traceback": report.get("traceback") or False,
        "duration": float(report.get("runtime") or 0.0),
        "lease_expires_at": False,
    }


def within_reaped_lease(at, reaped_lease_end):
    """Whether a late report of a reaped attempt was made before that attempt's lease ran out."""
    return at is not None and bool(reaped_lease_end) and at <= reaped_lease_end
