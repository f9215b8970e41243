"""The shape of a worker's report, checked the same way wherever it is read (Odoo's write-back).

A report is a dict: uuid, attempt, state (see jobstate.REPORTABLE), and as the state needs them
``at`` (UTC), ``worker``, ``result`` (JSON text), ``error_type``/``error_message``/``traceback``,
``progress``/``progress_message``, ``retry_in``, ``retry_after``, ``runtime``, ``deferred_reason``.

A file the job made is a report too, of kind ``file`` (``file_report``): it travels through the same
ordered spool as the job's state reports, so it can never reach Odoo before the job's ``started``
report; the spool sends it alone in its call (it may be large).
"""
import base64
import binascii
import json
from datetime import datetime

from celery_bridge.core import errors, jobstate, limits


def report_time(report):
    """The report's UTC time (naive, whole seconds as Odoo stores them), or None if it has none."""
    if not report.get("at"):
        return None
    return datetime.fromisoformat(report["at"]).replace(tzinfo=None, microsecond=0)


FILE = "file"  # the kind of a file report; state reports have no kind
MAX_FILE_BYTES = 200 * 1024 * 1024  # larger files are not attached


def file_report(uuid, attempt, filename, mimetype, content, at=None, worker=None):
    """The report that attaches ``content`` (bytes) to the job's attempt as ``filename``."""
    if len(content) > MAX_FILE_BYTES:
        raise ValueError("Files above %s MB are not attached." % (MAX_FILE_BYTES >> 20))
    report = {"kind": FILE, "uuid": uuid, "attempt": attempt, "filename": filename,
              "mimetype": mimetype or "application/octet-stream", "data": base64.b64encode(content).decode()}
    if at:
        report["at"] = at
    if worker:
        report["worker"] = worker
    return report


def is_file_report(report):
    return isinstance(report, dict) and report.get("kind") == FILE


def file_content(report):
    """The bytes of a well-formed file report, or ValueError saying why they are refused."""
    try:
        raw = base64.b64decode(report["data"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError("The file content must be base64.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError("Files above %s MB are not attached." % (MAX_FILE_BYTES >> 20))
    return raw


def _file_report_problem(report):
    filename, mimetype = report.get("filename"), report.get("mimetype")
    if not isinstance(filename, str) or not filename or "/" in filename or len(filename) > limits.MAX_NAME_LENGTH:
        return "A file name without '/' is required."
    if mimetype and (not isinstance(mimetype, str) or len(mimetype) > limits.MAX_NAME_LENGTH):
        return "mimetype must be a MIME type such as text/csv."
    if not isinstance(report.get("data"), str):
        return "The file content must be base64."
    return None


def report_problem(report):
    """Why a report is malformed, or None."""
    if not isinstance(report, dict):
        return "a report must be a dict"
    if "kind" in report and report["kind"] != FILE:
        return "kind must be %s, or absent for a report of the job's state" % FILE
    if not isinstance(report.get("uuid"), str) or not report["uuid"]:
        return "uuid missing"
    if not isinstance(report.get("attempt"), int) or isinstance(report["attempt"], bool):
        return "attempt must be an integer"
    if is_file_report(report):
        return _file_report_problem(report)
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
