from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from celery_bridge.core import limits
from celery_bridge.core import iot_catalog as catalog

from .smart_dairy_iot_threshold import SEVERITIES


class SmartDairyIotAlert(models.Model):
    """Raised by the workers (celery_bridge.odoo_db.iot) when a reading leaves a threshold band or a device
    falls silent; handled by people here. At most one open alert per device and rule (or per device for
    silence): further breaches update it and count."""

    _name = "smart_dairy.iot.alert"
    _description = "IoT Alert"
    _inherit = ["mail.thread", "mail.activity.mixin", "smart_dairy.protected.fields.mixin"]
    _order = "state_rank, severity_rank, last_breach_at desc, id desc"
    _check_company_auto = True
    # What an alert says and where it stands are the workers' and the actions' to set: an IoT user may
    # assign an alert, never lower its severity, close it without an action or mark it notified.
    _protected_fields = (
        "name", "device_id", "company_id", "alert_type", "dedup_key", "metric", "value", "threshold_id",
        "severity", "message", "state", "breach_count", "raised_at", "last_breach_at", "acknowledged_at",
        "acknowledged_by_id", "resolved_at", "resolved_by_id", "notified_at",
    )

    name = fields.Char(required=True, readonly=True)
    device_id = fields.Many2one("smart_dairy.iot.device", required=True, readonly=True, ondelete="cascade",
                                index=True, check_company=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    alert_type = fields.Selection(
        [("threshold", "Threshold breached"), ("offline", "Device offline")], required=True, readonly=True)
    dedup_key = fields.Char(required=True, readonly=True, help="One open alert per device and key.")
    metric = fields.Selection(catalog.METRIC_SELECTION, readonly=True)
    value = fields.Float("Last value", readonly=True, digits=(16, 3))
    threshold_id = fields.Many2one("smart_dairy.iot.threshold", "Rule", readonly=True, ondelete="set null")
    severity = fields.Selection(SEVERITIES, required=True, readonly=True, tracking=True)
    severity_rank = fields.Integer(compute="_compute_ranks", store=True)
    message = fields.Char(readonly=True)
    state = fields.Selection(
        [("new", "New"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")],
        default="new", required=True, readonly=True, tracking=True, index=True,
    )
    state_rank = fields.Integer(compute="_compute_ranks", store=True)
    breach_count = fields.Integer("Breaches", default=1, readonly=True)
    raised_at = fields.Datetime(readonly=True)
    last_breach_at = fields.Datetime(readonly=True)
    acknowledged_at = fields.Datetime(readonly=True)
    acknowledged_by_id = fields.Many2one("res.users", readonly=True)
    resolved_at = fields.Datetime(readonly=True)
    resolved_by_id = fields.Many2one("res.users", readonly=True)
    user_id = fields.Many2one("res.users", "Assigned To", tracking=True)
    notified_at = fields.Datetime(readonly=True, help="When the critical-device health check told the managers.")

    def init(self):
        # The workers' INSERT … ON CONFLICT relies on this partial index to never open a second alert.
        self.env.cr.execute(
            f"""CREATE UNIQUE INDEX IF NOT EXISTS smart_dairy_iot_alert_open_uniq
                ON {self._table} (device_id, dedup_key) WHERE state IN ('new', 'acknowledged')"""
        )

    @api.depends("state", "severity")
    def _compute_ranks(self):
        severity_rank = {"critical": 0, "warning": 1, "info": 2}
        state_rank = {"new": 0, "acknowledged": 1, "resolved": 2}
        for alert in self:
            alert.severity_rank = severity_rank.get(alert.severity, 3)
            alert.state_rank = state_rank.get(alert.state, 3)

    def action_acknowledge(self):
        # IoT users of the alert's company (write right and record rule), checked here, not by the button.
        self.check_access("write")
        if self.filtered(lambda alert: alert.state != "new"):
            raise UserError(self.env._("Only new alerts can be acknowledged."))
        self._system_write({
            "state": "acknowledged", "acknowledged_at": fields.Datetime.now(),
            "acknowledged_by_id": self.env.uid,
        })
        for alert in self.filtered(lambda alert: not alert.user_id):
            alert.user_id = self.env.user
        return True  # a button's answer, and an XML-RPC caller's (None cannot be marshalled)

    def action_resolve(self):
        self.check_access("write")
        if self.filtered(lambda alert: alert.state == "resolved"):
            raise UserError(self.env._("This alert is already resolved."))
        now = fields.Datetime.now()
        for alert in self:
            vals = {"state": "resolved", "resolved_at": now, "resolved_by_id": self.env.uid}
            if not alert.acknowledged_at:
                vals.update(acknowledged_at=now, acknowledged_by_id=self.env.uid)
            alert._system_write(vals)
        return True

    @api.model
    def _notify_critical(self, alert_ids, company_id=None):
        """Tell the IoT managers of an alert's company about critical alerts (called by the 5-minute
        health check, for its job's company ``company_id``). Each alert is notified once: a second call
        for the same alert does nothing. Ids of alerts deleted meanwhile are skipped; an alert of a
        company the caller may not see (or not of ``company_id``) refuses the whole call. Returns the
        ids notified. Asked by the bridge (smart_dairy.job.bridge.notify_critical), which checks its rights."""
        if (not isinstance(alert_ids, list) or len(alert_ids) > limits.MAX_DISPATCH_MANY
                or not all(type(alert_id) is int and alert_id > 0 for alert_id in alert_ids)):
            raise ValidationError(self.env._(
                "alert_ids must be a list of at most %(max)s alert ids (positive whole numbers).",
                max=limits.MAX_DISPATCH_MANY))
        if company_id is not None and (type(company_id) is not int or company_id <= 0):
            raise ValidationError(self.env._("company_id must be a company id (a positive whole number)."))
        allowed = self.env.companies
        if company_id is not None:
            if company_id not in allowed.ids:
                raise AccessError(self.env._("You may not notify alerts of company %(company)s.",
                                             company=company_id))
            allowed = allowed.browse(company_id)
        # sudo: the bridge user has no IoT rights; every alert is checked against the caller's
        # companies below before anything is written.
        alerts = self.sudo().browse(alert_ids).exists()
        foreign = alerts.filtered(lambda alert: alert.company_id not in allowed)
        if foreign:
            raise AccessError(self.env._(
                "Alerts %(ids)s belong to a company you may not notify.", ids=", ".join(map(str, foreign.ids))))
        alerts = alerts.filtered(lambda alert: not alert.notified_at and alert.state != "resolved")
        if not alerts:
            return []
        managers = self.env.ref("smart_dairy_iot.group_manager").sudo().users.filtered("active")
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        for alert in alerts:
            # Only the managers who work in the alert's company hear of it.
            company_managers = managers.filtered(lambda user, alert=alert: alert.company_id in user.company_ids)
            self._notify_managers(alert, company_managers, activity_type)
        alerts._system_write({"notified_at": fields.Datetime.now()})
        return alerts.ids

    @api.model
    def _notify_managers(self, alert, managers, activity_type):
        """A message on the alert and a to-do for each manager (``alert`` is sudo: see _notify_critical)."""
        if managers:
            alert.message_subscribe(partner_ids=managers.partner_id.ids)
        alert.message_post(
            body=self.env._("Critical alert on %(device)s: %(message)s", device=alert.device_id.name,
                            message=alert.message),
            message_type="notification", subtype_xmlid="mail.mt_comment",
        )
        for manager in managers:
            alert.activity_schedule(
                activity_type_id=activity_type.id, user_id=manager.id,
                summary=self.env._("Critical: %s", alert.name)[:200],
            )
