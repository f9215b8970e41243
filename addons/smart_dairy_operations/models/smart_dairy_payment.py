import math

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from celery_bridge.core import limits, schemas
from celery_bridge.core.payment_reference import REFERENCE

PROCESS_PAYMENT = "smart_dairy.payment.process_payment"
GATEWAYS = [("bkash", "bKash"), ("nagad", "Nagad")]
STATES = [("draft", "Draft"), ("processing", "Processing"), ("paid", "Paid"), ("declined", "Declined"),
          ("failed", "Failed")]
# The process_payment schema takes at most 12 digits before the decimal point.
MAX_AMOUNT = 10**12 - 1
# Payments one process_payment call may charge (each is one job).
MAX_PAYMENTS_PER_CALL = limits.MAX_PAYMENTS_PER_CALL


class SmartDairyPayment(models.Model):
    """A customer payment through bKash or Nagad, charged by a background job exactly once."""

    _name = "smart_dairy.payment"
    _description = "Mobile Payment"
    _inherit = ["mail.thread", "smart_dairy.protected.fields.mixin"]
    _order = "id desc"
    _check_company_auto = True
    # Only the gateway's answer (through _apply_job_outcome) makes a payment paid: nobody writes these.
    # The reference may be chosen at creation, never changed after (see write).
    _protected_fields = ("state", "transaction_id", "gateway_message", "job_id")

    name = fields.Char(string="Reference", required=True, readonly=True, copy=False, default="/",
                       help="Sent to the gateway as the invoice / order number: one charge per reference.")
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, tracking=True,
                                 check_company=True)
    gateway = fields.Selection(GATEWAYS, required=True, default="bkash", tracking=True)
    payer_number = fields.Char(string="Wallet Number", required=True, help="The customer's bKash / Nagad number.")
    amount = fields.Monetary(required=True, tracking=True)
    currency_id = fields.Many2one("res.currency", required=True, default=lambda self: self.env.ref("base.BDT"))
    state = fields.Selection(STATES, default="draft", required=True, readonly=True, tracking=True, index=True)
    transaction_id = fields.Char(string="Gateway Transaction", readonly=True, copy=False, tracking=True)
    gateway_message = fields.Char(readonly=True, copy=False)
    job_id = fields.Many2one("smart_dairy.job", readonly=True, copy=False, ondelete="set null")
    job_state = fields.Selection(related="job_id.state", string="Job State")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)

    _sql_constraints = [
        ("name_unique", "UNIQUE(name, company_id)", "Payment references are unique."),
        ("amount_positive", "CHECK(amount > 0)", "A payment amount must be positive."),
    ]

    @api.model
    def _check_payment_values(self, vals):
        """Refuse values the database or the gateway would choke on, before anything is written."""
        if "amount" in vals:
            amount = vals["amount"]
            if (not isinstance(amount, (int, float)) or isinstance(amount, bool) or not math.isfinite(amount)
                    or not 0 < amount <= MAX_AMOUNT):
                raise ValidationError(self.env._("The amount must be a number above 0 and at most %(max)s, not %(amount)s.",
                                                 max=MAX_AMOUNT, amount=repr(amount)[:40]))
        if "gateway" in vals and (not isinstance(vals["gateway"], str) or vals["gateway"] not in dict(GATEWAYS)):
            raise ValidationError(self.env._("Unknown gateway %(gateway)s: use one of %(known)s.",
                                             gateway=repr(vals["gateway"])[:40], known=", ".join(dict(GATEWAYS))))
        if "payer_number" in vals:
            number = vals["payer_number"]
            if not isinstance(number, str) or not schemas.is_phone(number) or len(number) > 32:
                raise ValidationError(self.env._("%(number)s is not a wallet (phone) number.",
                                                 number=repr(number)[:40]))
        if "name" in vals and vals["name"] not in (None, False, "/"):
            name = vals["name"]
            if not isinstance(name, str) or not REFERENCE.fullmatch(name):
                raise ValidationError(self.env._("Reference %(ref)s is not one the gateways take.",
                                                 ref=repr(name)[:80]))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_payment_values(vals)
        for vals in vals_list:
            if vals.get("name") in (None, False, "/"):
                vals["name"] = self.env["ir.sequence"].next_by_code("smart_dairy.payment") or "/"
            elif self.sudo().with_context(active_test=False).search_count([("name", "=", vals["name"])], limit=1):
                # sudo: the gateways know only the reference, whatever the company: a reference used by
                # another company's payment would find that payment's charge.
                raise ValidationError(self.env._("Reference %(ref)s is already used.", ref=vals["name"]))
        payments = super().create(vals_list)
        for payment in payments:
            if not REFERENCE.fullmatch(payment.name):
                raise ValidationError(self.env._("Reference %(ref)s is not one the gateways take.", ref=payment.name))
        return payments

    def write(self, vals):
        if "name" in vals and not self._is_system_edit():
            self._refuse_protected({"name"})
        self._check_payment_values(vals)
        return super().write(vals)

    def action_process(self):
        """Charge each payment through its gateway in the background. A payment already paid, or
        being processed, is never sent again; asking twice gives the same job. The job runs for the
        caller, in the payment's company (which the caller must be allowed to write in)."""
        self.check_access("write")
        for payment in self:
            if payment.state not in ("draft", "failed"):
                raise UserError(self.env._("Payment %(ref)s is %(state)s: it is not charged again.",
                                           ref=payment.name, state=dict(STATES)[payment.state]))
            job = self.env["smart_dairy.job"].with_company(payment.company_id).dispatch(
                PROCESS_PAYMENT,
                kwargs={"reference": payment.name, "gateway": payment.gateway, "amount": f"{payment.amount:.2f}",
                        "currency": payment.currency_id.name, "payer": payment.payer_number},
                # One job per reference (and attempt after a failure): a double click is one charge. The
                # core keeps the key inside the payment's company and this task.
                idempotency_key=f"payment:{payment.name}:{payment.job_id.id or 0}",
                res_model=payment._name, res_id=payment.id,
            )
            payment._system_write({"state": "processing", "job_id": job.id, "gateway_message": False})
        return True

    def action_view_job(self):
        self.ensure_one()
        return self.job_id.get_formview_action() if self.job_id else False

    def _apply_job_outcome(self, job):
        """The payment's side of a finished process_payment job; the customer hears of a failure."""
        self.ensure_one()
        if job.state == "cancelled":
            # Back to draft: charging again is safe, the gateway is asked about this reference first.
            self._system_write({"state": "draft"})
            self.message_post(body=self.env._("The charge was cancelled (job %(job)s).", job=job.display_name))
            return
        result = job._result() if job.state == "success" else None
        if isinstance(result, dict) and result.get("status") == "completed":
            self._system_write({"state": "paid", "transaction_id": result.get("transaction_id"),
                        "gateway_message": (result.get("message") or "")[:256] or False})
            self._email_customer(job, "payment_confirmation", transaction_id=result.get("transaction_id") or "")
            return
        if isinstance(result, dict) and result.get("status") == "declined":
            reason = result.get("message") or self.env._("declined by %(gateway)s", gateway=self.gateway)
            self._system_write({"state": "declined", "gateway_message": reason[:256]})
        else:
            reason = self.env._("%(gateway)s could not be reached; our team has been told.",
                                gateway=dict(GATEWAYS)[self.gateway])
            self._system_write({"state": "failed", "gateway_message": (job.error_message or job.error_type or "")[:256]})
        self._email_customer(job, "payment_failed", reason=reason)

    def _email_customer(self, job, template, **context):
        """Mail the customer about ``job``'s outcome, on behalf of the user who started the charge, in
        the payment's company (never as the bridge user who reported the outcome)."""
        if not self.partner_id.email:
            self.message_post(body=self.env._("The customer has no email address: not told by mail."))
            return
        values = {"customer_name": self.partner_id.name, "reference": self.name,
                  "amount": f"{self.amount:.2f}", "currency": self.currency_id.name}
        values.update(context)
        problem = self.env["smart_dairy.notification"]._send_email_for_job(
            job, self.partner_id.email, template, values, self)
        if problem:
            self.message_post(body=self.env._("The customer could not be told by mail: %(reason)s", reason=problem))

    @api.model
    def process_payment(self, payment_ids):
        """XML-RPC entry point for payment and mobile backends: charge these payments (ids the caller
        may write, in their allowed companies). Returns ``[{"id", "reference", "job_id"}]``."""
        if (not isinstance(payment_ids, list) or not payment_ids or len(payment_ids) > MAX_PAYMENTS_PER_CALL
                or not all(isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31
                           for pid in payment_ids)):
            raise ValidationError(self.env._("payment_ids must be a list of 1 to %(max)s payment ids.",
                                             max=MAX_PAYMENTS_PER_CALL))
        payments = self.browse(payment_ids)
        missing = set(payment_ids) - set(payments.exists().ids)
        if missing:
            raise ValidationError(self.env._("No payment with id(s) %(ids)s.",
                                             ids=", ".join(map(str, sorted(missing)))))
        payments.action_process()
        return [{"id": p.id, "reference": p.name, "job_id": p.job_id.id} for p in payments]
