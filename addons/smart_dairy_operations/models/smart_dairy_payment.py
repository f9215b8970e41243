from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from celery_bridge.payments.gateway import REFERENCE

PROCESS_PAYMENT = "smart_dairy.payment.process_payment"
GATEWAYS = [("bkash", "bKash"), ("nagad", "Nagad")]
STATES = [("draft", "Draft"), ("processing", "Processing"), ("paid", "Paid"), ("declined", "Declined"),
          ("failed", "Failed")]


class SmartDairyPayment(models.Model):
    """A customer payment through bKash or Nagad, charged by a background job exactly once."""

    _name = "smart_dairy.payment"
    _description = "Mobile Payment"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

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

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("smart_dairy.payment") or "/"
        payments = super().create(vals_list)
        for payment in payments:
            if not REFERENCE.fullmatch(payment.name):
                raise ValidationError(self.env._("Reference %(ref)s is not one the gateways take.", ref=payment.name))
        return payments

    def action_process(self):
        """Charge each payment through its gateway in the background. A payment already paid, or
        being processed, is never sent again; asking twice gives the same job."""
        for payment in self:
            if payment.state not in ("draft", "failed"):
                raise UserError(self.env._("Payment %(ref)s is %(state)s: it is not charged again.",
                                           ref=payment.name, state=dict(STATES)[payment.state]))
            job = self.env["smart_dairy.job"].dispatch(
                PROCESS_PAYMENT,
                kwargs={"reference": payment.name, "gateway": payment.gateway, "amount": f"{payment.amount:.2f}",
                        "currency": payment.currency_id.name, "payer": payment.payer_number},
                # One job per reference (and attempt after a failure): a double click is one charge.
                idempotency_key=f"payment:{payment.company_id.id}:{payment.name}:{payment.job_id.id or 0}",
                res_model=payment._name, res_id=payment.id,
            )
            payment.write({"state": "processing", "job_id": job.id, "gateway_message": False})
        return True

    def action_view_job(self):
        self.ensure_one()
        return self.job_id.get_formview_action() if self.job_id else False

    def _apply_job_outcome(self, job):
        """The payment's side of a finished process_payment job; the customer hears of a failure."""
        self.ensure_one()
        if job.state == "cancelled":
            # Back to draft: charging again is safe, the gateway is asked about this reference first.
            self.write({"state": "draft"})
            self.message_post(body=self.env._("The charge was cancelled (job %(job)s).", job=job.display_name))
            return
        result = job._result() if job.state == "success" else None
        if isinstance(result, dict) and result.get("status") == "completed":
            self.write({"state": "paid", "transaction_id": result.get("transaction_id"),
                        "gateway_message": (result.get("message") or "")[:256] or False})
            self._email_customer("payment_confirmation", transaction_id=result.get("transaction_id") or "")
            return
        if isinstance(result, dict) and result.get("status") == "declined":
            reason = result.get("message") or self.env._("declined by %(gateway)s", gateway=self.gateway)
            self.write({"state": "declined", "gateway_message": reason[:256]})
        else:
            reason = self.env._("%(gateway)s could not be reached; our team has been told.",
                                gateway=dict(GATEWAYS)[self.gateway])
            self.write({"state": "failed", "gateway_message": (job.error_message or job.error_type or "")[:256]})
        self._email_customer("payment_failed", reason=reason)

    def _email_customer(self, template, **context):
        if not self.partner_id.email:
            self.message_post(body=self.env._("The customer has no email address: not told by mail."))
            return
        values = {"customer_name": self.partner_id.name, "reference": self.name,
                  "amount": f"{self.amount:.2f}", "currency": self.currency_id.name}
        values.update(context)
        self.env["smart_dairy.notification"].sudo().with_company(self.company_id).send_email(
            self.partner_id.email, template=template, values=values, res_model=self._name, res_id=self.id)

    @api.model
    def process_payment(self, payment_ids):
        """XML-RPC entry point for payment and mobile backends: charge these payments. Returns
        ``[{"id", "reference", "job_id"}]``."""
        payments = self.browse(payment_ids)
        payments.action_process()
        return [{"id": p.id, "reference": p.name, "job_id": p.job_id.id} for p in payments]
