from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import iot_catalog as catalog

SEVERITIES = [("info", "Info"), ("warning", "Warning"), ("critical", "Critical")]


class SmartDairyIotThreshold(models.Model):
    _name = "smart_dairy.iot.threshold"
    _description = "Sensor Threshold Rule"
    _order = "metric, device_type, device_id"
    _check_company_auto = True

    name = fields.Char(required=True)
    device_type = fields.Selection(catalog.DEVICE_TYPES, help="Applies to every device of this type…")
    device_id = fields.Many2one(
        "smart_dairy.iot.device", check_company=True, ondelete="cascade", help="…or to this device only.")
    metric = fields.Selection(catalog.METRIC_SELECTION, required=True)
    min_value = fields.Float("Minimum", required=True, digits=(16, 3))
    max_value = fields.Float("Maximum", required=True, digits=(16, 3))
    unit = fields.Char(compute="_compute_unit")
    severity = fields.Selection(SEVERITIES, required=True, default="warning")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    active = fields.Boolean(default=True)

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        rules._check_shared_rules_are_administered()
        return rules

    def write(self, vals):
        self._check_shared_rules_are_administered()  # a shared rule may not be edited into a company's
        result = super().write(vals)
        self._check_shared_rules_are_administered()  # nor a company's rule made shared
        return result

    def unlink(self):
        self._check_shared_rules_are_administered()
        return super().unlink()

    def _check_shared_rules_are_administered(self):
        """A rule without a company applies to every company's devices: only administrators change
        those, so an IoT manager of one company can neither widen another company's bands nor silence
        its alerts."""
        if self.env.su or self.env.user.has_group("base.group_system"):
            return
        if self.filtered(lambda rule: not rule.company_id):
            raise AccessError(self.env._(
                "Threshold rules without a company apply to every company: only administrators change them. "
                "Set your company on the rule."))

    @api.depends("metric")
    def _compute_unit(self):
        for rule in self:
            metric = catalog.METRICS.get(rule.metric)
            rule.unit = metric.unit if metric else False

    @api.onchange("metric")
    def _onchange_metric(self):
        metric = catalog.METRICS.get(self.metric)
        if metric and not (self.min_value or self.max_value):
            self.min_value, self.max_value = metric.physical_min, metric.physical_max

    @api.onchange("device_id")
    def _onchange_device_id(self):
        if self.device_id:
            self.device_type = self.device_id.device_type

    @api.constrains("device_type", "device_id", "metric", "min_value", "max_value")
    def _check_rule(self):
        for rule in self:
            if not rule.device_type and not rule.device_id:
                raise ValidationError(self.env._("Rule %s: choose a device type or a device.", rule.name))
            if rule.min_value >= rule.max_value:
                raise ValidationError(self.env._("Rule %s: the minimum must be below the maximum.", rule.name))
            device_type = rule.device_id.device_type or rule.device_type
            metric = catalog.METRICS[rule.metric]
            if device_type not in metric.device_types:
                raise ValidationError(self.env._("Rule %(rule)s: a %(type)s does not report %(metric)s.",
                                        rule=rule.name, type=device_type, metric=metric.label))
