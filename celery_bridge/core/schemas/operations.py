"""Schemas of the notification, report and payment tasks (smart_dairy_operations)."""
from celery_bridge.core.payment_reference import REFERENCE
from celery_bridge.core.schemas import call_schema, register
from celery_bridge.core.schemas._types import DATE, EMAIL, PHONE, integer, optional, text

SUBJECT = text(998, pattern=r"^[^\r\n]*$")  # one header line: RFC 5322's limit, no CR/LF (header injection)
BODY_HTML = text(400 * 1024)
TEMPLATE = text(64, 1)
TEMPLATE_VALUES = {"type": "object", "maxProperties": 50, "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
MAIL_PARTS = {"subject": optional(SUBJECT), "body_html": optional(BODY_HTML), "template": optional(TEMPLATE),
              "context": optional(TEMPLATE_VALUES)}

register("smart_dairy.email.send_email", call_schema(
    [("to", EMAIL), ("subject", optional(SUBJECT)), ("body_html", optional(BODY_HTML)),
     ("template", optional(TEMPLATE)), ("context", optional(TEMPLATE_VALUES)), ("reply_to", optional(EMAIL))],
    required=["to"]))
register("smart_dairy.email.send_email_batch", call_schema(
    [("recipients", {"type": "array", "minItems": 1, "maxItems": 100, "items": EMAIL})],
    keyword=MAIL_PARTS, required=["recipients"]))
# The parent of a bulk mailing: never run by a worker, its chunks are send_email_batch jobs.
register("smart_dairy.email.send_bulk_emails", call_schema(keyword=MAIL_PARTS))
register("smart_dairy.sms.send_sms", call_schema([("to", PHONE), ("text", text(1600, 1))], required=["to", "text"]))

register("smart_dairy.payment.process_payment", call_schema(
    [("reference", text(64, 1, pattern="^" + REFERENCE.pattern + "$")),
     ("gateway", {"enum": ["bkash", "nagad"]}),
     ("amount", text(16, 1, pattern=r"^\d{1,12}(\.\d{1,2})?$")),
     ("currency", text(3, 3, pattern="^[A-Z]{3}$")),
     ("payer", optional(PHONE))],
    required=["reference", "gateway", "amount"]))

register("smart_dairy.report.generate_report", call_schema(
    [("report_type", {"enum": ["milk_production", "job_statistics"]}), ("date_from", DATE), ("date_to", DATE),
     ("user_id", optional(integer(1, 2**31 - 1))), ("format", {"enum": ["pdf", "xlsx", "csv"]})],
    required=["report_type", "date_from", "date_to"]))
register("smart_dairy.report.send_daily_reports", call_schema(
    [("report_type", {"enum": ["daily_summary"]}), ("day", optional(DATE)),
     ("recipients", optional({"type": "array", "maxItems": 100, "items": EMAIL}))]))
