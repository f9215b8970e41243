"""Reports of spec B-009 §3.2 on celery:report (1 h hard, 55 min soft, 2 retries).

The worker reads the data straight from Odoo's database (read-only SQL, one query per report), renders
CSV, XLSX or PDF (celery_bridge.integrations.tables) and sends the file to the job as a file report,
through the ordered report spool (so it lands after the job's "started" report); Odoo then tells the
requesting user. A soft time-out ends the job as a time-limit failure, and Odoo tells the user that
too, instead of failing silently.
"""
from datetime import date, datetime, timedelta

import pytz

from celery_bridge.odoo_db import connection as db
from celery_bridge.core import errors, mail_templates
from celery_bridge.core.worker_reports import file_report
from celery_bridge.odoo_db import reports as report_data
from celery_bridge.integrations import mail
from celery_bridge.worker import runtime
from celery_bridge.worker.context import job_context
from celery_bridge.celery import app
from celery_bridge.odoo_db import iot as store
from celery_bridge.worker.odoo_client import get_client

REPORT_TYPES = ("milk_production", "job_statistics")


def _day(value, name):
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise errors.InvalidInput(f"{name} must be YYYY-MM-DD, got {value!r}") from None


COLUMNS = {
    "milk_production": ["Day", "Device", "Device ID", "Milk (L)", "Milkings"],
    "job_statistics": ["Task", "Queue", "Jobs", "Success %", "Failure %", "Mean run (s)", "p95 run (s)",
                       "Mean wait (s)", "Within SLA %"],
}
TITLES = {"milk_production": "Milk production", "job_statistics": "Background job statistics"}


def build_report(settings, report_type, date_from, date_to, fmt, company_id, user_id=None):
    """(content, mimetype, filename, rows) of a report over farm days [date_from, date_to] of
    ``company_id``'s data (the running job's company), seen as ``user_id`` (the job's user)."""
    if report_type not in REPORT_TYPES:
        raise errors.InvalidInput(f"unknown report type {report_type!r} (known: {', '.join(REPORT_TYPES)})")
    start, end = _day(date_from, "date_from"), _day(date_to, "date_to")
    if end < start:
        raise errors.InvalidInput("date_to is before date_from")
    period = (store.day_bounds_utc(start, settings.farm_timezone)[0],
              store.day_bounds_utc(end, settings.farm_timezone)[1])

    rows = db.run_in_transaction(
        settings, lambda cr: report_data.report_rows(cr, report_type, *period, settings.farm_timezone, company_id, user_id))
    # openpyxl and reportlab weigh ~40 MB a process: only the processes that render a report load them.
    from celery_bridge.integrations import tables as reporting

    subtitle = f"{start.isoformat()} to {end.isoformat()} ({settings.farm_timezone}), {len(rows)} rows"
    content, mimetype, extension = reporting.render_table(
        TITLES[report_type], COLUMNS[report_type], rows, fmt, subtitle=subtitle)
    return content, mimetype, f"{report_type}_{start.isoformat()}_{end.isoformat()}.{extension}", rows


@app.task(bind=True, name="smart_dairy.report.generate_report")
def generate_report(self, report_type, date_from, date_to, user_id=None, format="pdf"):  # noqa: A002 - the spec's name
    """Render a report of the job's company, as the job's user, and attach it to this job; progress
    10 / 50 / 90 %. ``user_id`` is accepted for older callers but never chooses whose data is shown:
    the job's company and user (from the message Odoo sent) do."""
    settings = runtime.settings()
    company_id = self.job_company_id()
    context = job_context(self.request)
    self.report_progress(10, "reading data")
    content, mimetype, filename, rows = build_report(settings, report_type, date_from, date_to, format,
                                                     company_id, context.user_id)
    self.report_progress(50, f"{len(rows)} rows rendered")
    if context:  # dispatched by Odoo: the file goes onto the job, through the spool after "started"
        self.report_progress(90, "attaching the file")
        try:
            report = file_report(context.uuid, context.attempt, filename, mimetype, content,
                                 at=runtime.utcnow_iso(), worker=self.request.hostname)
        except ValueError as exc:
            raise errors.JobError(f"Odoo did not take the file: {exc}") from None
        runtime.reporter().submit(report)
    return {"filename": filename, "rows": len(rows), "bytes": len(content),
            "user_id": context.user_id, "company_id": company_id}


@app.task(bind=True, name="smart_dairy.report.send_daily_reports")
def send_daily_reports(self, report_type="daily_summary", day=None, recipients=None):
    """Mail yesterday's milk production of the job's company (PDF) to that company's IoT managers, or
    to ``recipients``."""
    if report_type != "daily_summary":
        raise errors.InvalidInput(f"unknown daily report {report_type!r}")
    settings = runtime.settings()
    company_id = self.job_company_id()
    context = job_context(self.request)
    target = _day(day, "day") if day else datetime.now(pytz.timezone(settings.farm_timezone)).date() - timedelta(days=1)
    if recipients is None:
        # Odoo answers from the job (its uuid): the IoT managers of the job's company, nobody else.
        recipients = get_client(settings).ask("daily_report_recipients", context.uuid)
    content, mimetype, filename, rows = build_report(settings, "milk_production", target, target, "pdf",
                                                     company_id, context.user_id)
    litres = sum(row[3] for row in rows)
    rendered = mail_templates.render_named("daily_report", {
        "report_date": target.isoformat(), "litres": f"{litres:,.1f}", "devices": len({row[2] for row in rows})})
    outcomes = []
    for to in recipients:
        sent = mail.send_mail(settings, to, rendered.subject, rendered.html, body_text=rendered.text,
                              attachments=[(filename, content, mimetype)])
        outcomes.append({"recipient": to, "outcome": "sent", "message_id": sent["message_id"]})
    return {"outcomes": outcomes, "template": "daily_report", "subject": rendered.subject, "day": target.isoformat(),
            "litres": round(litres, 2)}
