"""The mails the bridge writes itself (payment failed, report ready…), rendered from a context dict.

``string.Template`` rather than ``str.format`` or Jinja: a context value can only be substituted,
never evaluated or used to reach attributes. Values are HTML-escaped in the HTML part and folded
onto one line in the subject.
"""
import html
from string import Template
from typing import NamedTuple

from celery_bridge.core import errors


class MailTemplate(NamedTuple):
    subject: str
    html: str
    text: str


class RenderedMail(NamedTuple):
    subject: str
    html: str
    text: str


NAMED_TEMPLATES = {
    "payment_confirmation": MailTemplate(
        subject="Payment received for $reference",
        html="<p>Dear $customer_name,</p>"
             "<p>We received your payment of <b>$amount $currency</b> for $reference.</p>"
             "<p>Transaction: $transaction_id</p><p>Thank you, Smart Dairy</p>",
        text="Dear $customer_name,\n\nWe received your payment of $amount $currency for $reference.\n\n"
             "Transaction: $transaction_id\n\nThank you, Smart Dairy\n",
    ),
    "payment_failed": MailTemplate(
        subject="Payment for $reference did not go through",
        html="<p>Dear $customer_name,</p>"
             "<p>Your payment of <b>$amount $currency</b> for $reference did not go through: $reason</p>"
             "<p>You can pay again from your account, or answer this mail for help.</p><p>Smart Dairy</p>",
        text="Dear $customer_name,\n\nYour payment of $amount $currency for $reference did not go through: "
             "$reason\n\nYou can pay again from your account, or answer this mail for help.\n\nSmart Dairy\n",
    ),
    "report_ready": MailTemplate(
        subject="Your report $report_name is ready",
        html="<p>Your report <b>$report_name</b> for $date_from to $date_to is ready.</p>"
             '<p><a href="$download_url">Open it in Smart Dairy</a> (sign in to download it).</p>',
        text="Your report $report_name for $date_from to $date_to is ready.\n\n"
             "Open it in Smart Dairy (sign in to download it): $download_url\n",
    ),
    "report_timed_out": MailTemplate(
        subject="Your report $report_name could not be finished",
        html="<p>Your report <b>$report_name</b> took longer than its time limit and was stopped.</p>"
             "<p>Try a shorter period, or ask an administrator to run it off-hours.</p>",
        text="Your report $report_name took longer than its time limit and was stopped.\n\n"
             "Try a shorter period, or ask an administrator to run it off-hours.\n",
    ),
    "daily_report": MailTemplate(
        subject="Smart Dairy daily report for $report_date",
        html="<p>The daily report for <b>$report_date</b> is attached: $litres L of milk from $devices milk"
             " meter(s).</p><p>Smart Dairy</p>",
        text="The daily report for $report_date is attached: $litres L of milk from $devices milk meter(s).\n\n"
             "Smart Dairy\n",
    ),
}


def placeholders(template):
    """The context keys a template needs."""
    names = set()
    for part in template:
        for match in Template.pattern.finditer(part):
            name = match.group("named") or match.group("braced")
            if name:
                names.add(name)
    return names


def render_named(name, context):
    """Subject, HTML and text of the named mail; ``InvalidInput`` for an unknown name or a missing key."""
    template = NAMED_TEMPLATES.get(name)
    if template is None:
        raise errors.InvalidInput(f"unknown mail template {name!r} (known: {', '.join(sorted(NAMED_TEMPLATES))})")
    if not isinstance(context, dict):
        raise errors.InvalidInput("a mail context must be a dict")
    missing = sorted(placeholders(template) - set(context))
    if missing:
        raise errors.InvalidInput(f"mail template {name!r} needs {', '.join(missing)}")
    plain = {key: "" if value is None else str(value) for key, value in context.items()}
    return RenderedMail(
        subject=Template(template.subject).substitute({key: " ".join(value.split()) for key, value in plain.items()}),
        html=Template(template.html).substitute({key: html.escape(value) for key, value in plain.items()}),
        text=Template(template.text).substitute(plain),
    )
