"""Issue 19: the retry policy and services of B-009 §3.1/§3.2 (SMTP and SMS retried after a fixed 60 s;
payments backing off from 30 s up to 600 s, with one circuit per gateway), for the task types this
addon seeded that still hold the values first shipped (see smart_dairy_jobs' engine/seed_updates)."""
from odoo.addons.smart_dairy_jobs.engine.seed_updates import update_unchanged

FIXED_60 = {"retry_backoff_base": (2.0, 60.0), "retry_backoff": (True, False)}
CHANGES = {
    "task_email_send_email": dict(FIXED_60, external_service=(False, "smtp")),
    "task_email_send_email_batch": dict(FIXED_60, external_service=(False, "smtp")),
    "task_sms_send_sms": dict(FIXED_60, external_service=(False, "sms")),
    "task_email_send_bulk_emails": {"retry_backoff_base": (2.0, 60.0)},
    "task_report_generate_report": {"retry_backoff_base": (2.0, 60.0)},
    "task_report_send_daily_reports": {"retry_backoff_base": (2.0, 60.0), "external_service": (False, "smtp")},
    "task_payment_process_payment": {"retry_backoff_base": (2.0, 30.0), "retry_backoff_max": (300.0, 600.0),
                                     "external_service": (False, "payment.{gateway}")},
}


def migrate(cr, version):
    update_unchanged(cr, "smart_dairy_operations", CHANGES)
