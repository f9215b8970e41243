from email_validator import EmailNotValidError

from odoo import api, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import limits, schemas
from celery_bridge.core.mail_templates import NAMED_TEMPLATES, placeholders

SEND_EMAIL = "smart_dairy.email.send_email"
BULK_EMAILS = "smart_dairy.email.send_bulk_emails"
EMAIL_BATCH = "smart_dairy.email.send_email_batch"
SEND_SMS = "smart_dairy.sms.send_sms"
BULK_CHUNK = 100  # B-009 §3.2: bulk mail goes out in batches of 100
# One chunk job per BULK_CHUNK recipients, at most limits.MAX_DISPATCH_MANY chunks per mailing.
MAX_BULK_RECIPIENTS = BULK_CHUNK * limits.MAX_DISPATCH_MANY
# Records one send_mail_template call renders (one job per recipient, limits.MAX_DISPATCH_MANY at most).
MAX_TEMPLATE_RECORDS = limits.MAX_TEMPLATE_RECORDS


class SmartDairyNotification(models.AbstractModel):
    """How Odoo code (and XML-RPC callers) send mail and SMS through the workers. Every send is a job;
    every outcome lands in the notification log."""

    _name = "smart_dairy.notification"
    _description = "Notifications through background jobs"

    @api.model
    def _check_template(self, template, values):
        """A named template must exist and get every value it needs: refused here, not dead-lettered later."""
        if values is not None and not isinstance(values, dict):
            raise ValidationError(self.env._("The template values must be a mapping of names to values."))
        if not template:
            return
        if not isinstance(template, str) or template not in NAMED_TEMPLATES:
            raise ValidationError(self.env._("Unknown mail template %(name)s. Known: %(known)s.",
                                             name=repr(template)[:80], known=", ".join(sorted(NAMED_TEMPLATES))))
        missing = sorted(placeholders(NAMED_TEMPLATES[template]) - set(values or {}))
        if missing:
            raise ValidationError(self.env._("Mail template %(name)r needs values for: %(missing)s.",
                                             name=template, missing=", ".join(missing)))

    @api.model
    def _check_email_address(self, address):
        """The format check of the tasks' argument schemas (email-validator): no '@'-only address, no
        CR/LF header injection."""
        try:
            if not isinstance(address, str):
                raise EmailNotValidError("not a string")
            schemas.is_email(address)
        except EmailNotValidError as exc:
            raise ValidationError(self.env._("%(address)s is not an email address: %(reason)s",
                                             address=repr(address)[:100], reason=exc)) from None

    @api.model
    @api.returns("smart_dairy.job", lambda job: job.id)
    def send_email(self, to, template=None, values=None, subject=None, body_html=None, **options):
        """Mail ``to`` from a named bridge template (``template`` filled with ``values``) or an already
        written ``subject`` and ``body_html``. Returns the job. (Not ``context``: over XML-RPC that name
        is Odoo's own.)"""
        self._check_email_address(to)
        self._check_template(template, values)
        kwargs = {"to": to}
        kwargs.update({key: value for key, value in (("template", template), ("context", values),
                                                     ("subject", subject), ("body_html", body_html)) if value})
        return self.env["smart_dairy.job"].dispatch(SEND_EMAIL, kwargs=kwargs, **options)

    @api.model
    @api.returns("smart_dairy.job", lambda jobs: jobs.ids)
    def send_mail_template(self, mail_template, res_ids, **options):
        """Render an Odoo mail template (record, id or xml id) for ``res_ids`` here, in one go, and send
        each rendered mail as a job. Returns the jobs.

        ``res_ids``: a list of at most MAX_TEMPLATE_RECORDS record ids of the template's model, each of
        which the caller must be allowed to read in their companies (the rendering itself runs as
        superuser, so that check is the one that counts)."""
        if isinstance(mail_template, str) and mail_template:
            mail_template = self.env.ref(mail_template, raise_if_not_found=False)
        elif isinstance(mail_template, int) and not isinstance(mail_template, bool):  # over XML-RPC
            mail_template = self.env["mail.template"].browse(mail_template) if 0 < mail_template < 2**31 else None
        if (not isinstance(mail_template, models.BaseModel) or mail_template._name != "mail.template"
                or len(mail_template) != 1 or not mail_template.exists()):
            raise ValidationError(self.env._("No such mail template."))
        if (not isinstance(res_ids, list) or not res_ids or len(res_ids) > MAX_TEMPLATE_RECORDS
                or not all(isinstance(res_id, int) and not isinstance(res_id, bool) and 0 < res_id < 2**31
                           for res_id in res_ids)):
            raise ValidationError(self.env._("res_ids must be a list of 1 to %(max)s record ids.",
                                             max=MAX_TEMPLATE_RECORDS))
        res_ids = list(dict.fromkeys(res_ids))
        mail_template.check_access("read")
        model = mail_template.sudo().model
        if not model or model not in self.env or self.env[model]._abstract or self.env[model]._transient:
            raise ValidationError(self.env._("The mail template renders no stored model."))
        records = self.env[model].browse(res_ids)
        missing = set(res_ids) - set(records.exists().ids)
        if missing:
            raise ValidationError(self.env._("No %(model)s record with id(s) %(ids)s.", model=model,
                                             ids=", ".join(map(str, sorted(missing)))))
        # The caller's read right on every record, record rules (hence their companies) included.
        records.check_access("read")
        # sudo: rendering needs the template's own fields and what it refers to; the caller was just
        # shown to read the template and every record it renders.
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
        if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_BULK_RECIPIENTS:
            raise ValidationError(self.env._("recipients must be a list of 1 to %(max)s email addresses.",
                                             max=MAX_BULK_RECIPIENTS))
        bad = []
        for recipient in recipients:
            try:
                self._check_email_address(recipient)
            except ValidationError:
                bad.append(repr(recipient)[:100])
        if bad:
            raise ValidationError(self.env._("Not email addresses (%(count)s): %(bad)s", count=len(bad),
                                             bad=", ".join(bad[:5])))
        self._check_template(template, values)
        kwargs = {key: value for key, value in (("template", template), ("context", values),
                                                ("subject", subject), ("body_html", body_html)) if value}
        return self.env["smart_dairy.job"].dispatch_chunked(
            BULK_EMAILS, recipients, chunk_size=BULK_CHUNK, kwargs=kwargs, chunk_task_name=EMAIL_BATCH)

    @api.model
    @api.returns("smart_dairy.job", lambda job: job.id)
    def send_sms(self, to, text, **options):
        if not isinstance(to, str) or not schemas.is_phone(to):
            raise ValidationError(self.env._("%(to)s is not a phone number.", to=repr(to)[:40]))
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(self.env._("An SMS needs a text."))
        return self.env["smart_dairy.job"].dispatch(SEND_SMS, kwargs={"to": to, "text": text}, **options)

    @api.model
    def _send_email_for_job(self, job, to, template, values, record):
        """Mail ``to`` about ``record`` after ``job`` finished, on behalf of the job's user in its
        company — never as the bridge user whose report finished it. Returns None once the mail's job is
        dispatched, or why it could not be (the job's outcome stands either way)."""
        if not job.user_id:
            return self.env._("the job has no user to send the mail for")
        notifications = self.with_user(job.user_id).with_company(job.company_id)
        try:
            with self.env.cr.savepoint():
                notifications.send_email(to, template=template, values=values, res_model=record._name,
                                         res_id=record.id)
        except (AccessError, ValidationError) as exc:  # say the user lost their rights meanwhile
            return str(exc)
        return None
