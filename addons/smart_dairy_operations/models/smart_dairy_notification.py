from odoo import api, models
from odoo.exceptions import ValidationError

from celery_bridge.mail_templates import NAMED_TEMPLATES, placeholders

SEND_EMAIL = "smart_dairy.email.send_email"
BULK_EMAILS = "smart_dairy.email.send_bulk_emails"
EMAIL_BATCH = "smart_dairy.email.send_email_batch"
SEND_SMS = "smart_dairy.sms.send_sms"
BULK_CHUNK = 100  # B-009 §3.2: bulk mail goes out in batches of 100


class SmartDairyNotification(models.AbstractModel):
    """How Odoo code (and XML-RPC callers) send mail and SMS through the workers. Every send is a job;
    every outcome lands in the notification log."""

    _name = "smart_dairy.notification"
    _description = "Notifications through background jobs"

    @api.model
    def _check_template(self, template, values):
        """A named template must exist and get every value it needs: refused here, not dead-lettered later."""
        if not template:
            return
        if template not in NAMED_TEMPLATES:
            raise ValidationError(self.env._("Unknown mail template %(name)r. Known: %(known)s.",
                                             name=template, known=", ".join(sorted(NAMED_TEMPLATES))))
        missing = sorted(placeholders(NAMED_TEMPLATES[template]) - set(values or {}))
        if missing:
            raise ValidationError(self.env._("Mail template %(name)r needs values for: %(missing)s.",
                                             name=template, missing=", ".join(missing)))

    @api.model
    @api.returns("smart_dairy.job", lambda job: job.id)
    def send_email(self, to, template=None, values=None, subject=None, body_html=None, **options):
        """Mail ``to`` from a named bridge template (``template`` filled with ``values``) or an already
        written ``subject`` and ``body_html``. Returns the job. (Not ``context``: over XML-RPC that name
        is Odoo's own.)"""
        self._check_template(template, values)
        if not isinstance(to, str) or "@" not in to:
            raise ValidationError(self.env._("%(to)r is not an email address.", to=to))
        kwargs = {"to": to}
        kwargs.update({key: value for key, value in (("template", template), ("context", values),
                                                     ("subject", subject), ("body_html", body_html)) if value})
        return self.env["smart_dairy.job"].dispatch(SEND_EMAIL, kwargs=kwargs, **options)

    @api.model
    @api.returns("smart_dairy.job", lambda jobs: jobs.ids)
    def send_mail_template(self, mail_template, res_ids, **options):
        """Render an Odoo mail template (record, id or xml id) for ``res_ids`` here, in one go, and send
        each rendered mail as a job. Returns the jobs."""
        if isinstance(mail_template, str):
            mail_template = self.env.ref(mail_template)
        elif isinstance(mail_template, int):  # over XML-RPC
            mail_template = self.env["mail.template"].browse(mail_template)
        if not mail_template.exists() or mail_template._name != "mail.template":
            raise ValidationError(self.env._("No such mail template."))
        mail_template = mail_template.sudo()
        rendered = mail_template._generate_template(res_ids, ("subject", "body_html", "email_to", "partner_to"))
        requests = []
        for res_id in res_ids:
            values = rendered[res_id]
            recipients = [email for email in (values.get("email_to") or "").split(",") if email.strip()]
            partner_ids = values.get("partner_ids") or []
            recipients += [p.email for p in self.env["res.partner"].sudo().browse(partner_ids) if p.email]
            for to in recipients:
                requests.append({
                    "task_name": SEND_EMAIL, "res_model": mail_template.model, "res_id": res_id,
                    "kwargs": {"to": to.strip(), "subject": values.get("subject") or "",
                               "body_html": str(values.get("body_html") or "")},
                    **options,
                })
        if not requests:
            raise ValidationError(self.env._("The template gives no recipient for these records."))
        return self.env["smart_dairy.job"].dispatch_many(requests)

    @api.model
    @api.returns("smart_dairy.job", lambda job: job.id)
    def send_bulk_emails(self, recipients, template=None, values=None, subject=None, body_html=None):
        """One parent job, one chunk job per 100 recipients; the parent's result lists every
        recipient's outcome. Returns the parent job."""
        if not isinstance(recipients, list) or not recipients:
            raise ValidationError(self.env._("recipients must be a non-empty list of email addresses."))
        bad = [r for r in recipients if not isinstance(r, str) or "@" not in r]
        if bad:
            raise ValidationError(self.env._("Not email addresses: %(bad)s", bad=", ".join(map(str, bad[:5]))))
        self._check_template(template, values)
        kwargs = {key: value for key, value in (("template", template), ("context", values),
                                                ("subject", subject), ("body_html", body_html)) if value}
        return self.env["smart_dairy.job"].dispatch_chunked(
            BULK_EMAILS, recipients, chunk_size=BULK_CHUNK, kwargs=kwargs, chunk_task_name=EMAIL_BATCH)

    @api.model
    @api.returns("smart_dairy.job", lambda job: job.id)
    def send_sms(self, to, text, **options):
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(self.env._("An SMS needs a text."))
        return self.env["smart_dairy.job"].dispatch(SEND_SMS, kwargs={"to": to, "text": text}, **options)
