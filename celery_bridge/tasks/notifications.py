"""Notifications of spec B-009 §3.2 on celery:email: mail over SMTP, SMS over the provider's HTTP API.

Each task returns what Odoo logs (recipient, template, outcome, message id); Odoo writes the
notification log when the job's result comes back, so no task calls Odoo per message.
"""
from celery_bridge.core import errors, mail_templates, protocol
from celery_bridge.integrations import mail
from celery_bridge.worker import runtime
from celery_bridge.celery import app
from celery_bridge.core.scrub import masked_number
from celery_bridge.integrations.sms import HttpSmsProvider


def _rendered(subject, body_html, template, context):
    if template:
        rendered = mail_templates.render_named(template, context or {})
        return rendered.subject, rendered.html, rendered.text
    if not subject or not body_html:
        raise errors.InvalidInput("send_email needs a template, or a subject and an HTML body")
    return subject, body_html, None


@app.task(bind=True, name="smart_dairy.email.send_email")
def send_email(self, to, subject=None, body_html=None, template=None, context=None, reply_to=None):
    """One mail: either already rendered by Odoo (``subject``, ``body_html``, from an Odoo mail template)
    or rendered here from a named bridge template and ``context``. A refused recipient fails without
    retry; a transient SMTP error is retried by the task type's policy (3 retries)."""
    subject, body_html, body_text = _rendered(subject, body_html, template, context)
    sent = mail.send_mail(runtime.settings(), to, subject, body_html, body_text=body_text, reply_to=reply_to)
    return {"outcomes": [{"recipient": to, "outcome": "sent", "message_id": sent["message_id"]}],
            "template": template or "", "subject": subject}


@app.task(bind=True, name="smart_dairy.email.send_email_batch")
def send_email_batch(self, recipients, subject=None, body_html=None, template=None, context=None):
    """One chunk (≤ 100) of a bulk mailing: every recipient gets its outcome; a refused address does not
    stop the others. A transient failure of the server makes the chunk retry; recipients an earlier
    attempt reached are remembered in Redis and not mailed twice."""
    if not isinstance(recipients, list) or not recipients:
        raise errors.InvalidInput("send_email_batch needs a non-empty list of recipients")
    subject, body_html, body_text = _rendered(subject, body_html, template, context)
    settings = runtime.settings()
    # What an earlier attempt of this chunk already sent, so a retry after a server outage resends nothing.
    sent_key, redis = protocol.MAIL_SENT_PREFIX + self.request.id, runtime.redis()
    already = {key.decode(): value.decode() for key, value in redis.hgetall(sent_key).items()}
    outcomes = []
    for index, to in enumerate(recipients, start=1):
        if to in already:
            outcomes.append({"recipient": to, "outcome": "sent", "message_id": already[to]})
            continue
        try:
            sent = mail.send_mail(settings, to, subject, body_html, body_text=body_text)
            redis.hset(sent_key, to, sent["message_id"])
            redis.expire(sent_key, 2 * 86400)
            outcomes.append({"recipient": to, "outcome": "sent", "message_id": sent["message_id"]})
        except errors.Refused as exc:
            outcomes.append({"recipient": to, "outcome": "refused", "error": str(exc)[:200]})
        except errors.InvalidInput as exc:
            outcomes.append({"recipient": to, "outcome": "invalid", "error": str(exc)[:200]})
        if index % 10 == 0 or index == len(recipients):
            self.report_progress(100 * index / len(recipients), f"{index} of {len(recipients)}")
    return {"outcomes": outcomes, "template": template or "", "subject": subject}


@app.task(bind=True, name="smart_dairy.sms.send_sms")
def send_sms(self, to, text):
    """One SMS through the configured HTTP provider (30 s, 3 retries; 429 waits as the provider asks)."""
    sent = HttpSmsProvider.from_settings(runtime.settings()).send(to, text)
    return {"outcomes": [{"recipient": masked_number(sent["recipient"]), "outcome": "sent",
                          "message_id": sent["message_id"]}], "template": "", "subject": ""}
