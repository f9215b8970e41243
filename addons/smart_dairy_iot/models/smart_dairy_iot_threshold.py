from odoo import api, fields, models
from odoo.exceptions import ValidationError

from celery_bridge.iot import catalog

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
