"""The shape of a worker's report, checked the same way wherever it is read (Odoo's write-back).

A report is a dict: uuid, attempt, state (see jobstate.REPORTABLE), and as the state needs them
``at`` (UTC), ``worker``, ``result`` (JSON text), ``error_type``/``error_message``/``traceback``,
``progress``/``progress_message``, ``retry_in``, ``retry_after``, ``runtime``, ``deferred_reason``.
"""
import json
from datetime import datetime

from celery_bridge.core import errors, jobstate


def report_time(report):
    """The report's UTC time (naive, whole seconds as Odoo stores them), or None if it has none."""
    if not report.get("at"):
        return None
    return datetime.fromisoformat(report["at"]).replace(tzinfo=None, microsecond=0)


def report_problem(report):
    """Why a report is malformed, or None."""
    if not isinstance(report, dict):
        return "a report must be a dict"
    if not isinstance(report.get("uuid"), str) or not report["uuid"]:
        return "uuid missing"
    if not isinstance(report.get("attempt"), int) or isinstance(report["attempt"], bool):
        return "attempt must be an integer"
    if report.get("state") not in jobstate.REPORTABLE:
        return "state must be one of %s" % ", ".join(sorted(jobstate.REPORTABLE))
    if "result" in report:
        if not isinstance(report["result"], str):
            return "result must be JSON text"
        try:
            json.loads(report["result"])
        except ValueError:
            return "result is not valid JSON"
    progress = report.get("progress")
    if progress is not None and (not isinstance(progress, int) or not 0 <= progress <= 100):
        return "progress must be an integer from 0 to 100"
    if report.get("error_type") and report["error_type"] not in dict(errors.ERROR_TYPES):
        return "unknown error_type %r" % report["error_type"]
    for number in ("retry_in", "retry_after", "runtime"):
        value = report.get(number)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            return "%s must be a number of seconds" % number
    try:
        report_time(report)
    except (TypeError, ValueError):
        return "at must be a UTC time such as 2026-01-31 14:00:00.123456"
    return None
