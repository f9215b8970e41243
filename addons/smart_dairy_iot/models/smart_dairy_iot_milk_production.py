from odoo import fields, models


class SmartDairyIotMilkProduction(models.Model):
    """Milk per device and farm day, recomputed from milk meter readings by the daily aggregation job
    (celery_bridge.odoo_db.iot.aggregate_milk): rerunning a day updates its rows in place."""

    _name = "smart_dairy.iot.milk.production"
    _description = "Daily Milk Production"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    # Computed from the readings by the aggregation job only.
    _protected_fields = "__all__"
    _order = "day desc, device_id"
    _log_access = False
    _rec_name = "day"

    device_id = fields.Many2one("smart_dairy.iot.device", required=True, readonly=True, ondelete="cascade",
                                index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    day = fields.Date(required=True, readonly=True, index=True)
    quantity = fields.Float("Milk (L)", readonly=True, digits=(16, 2))
    reading_count = fields.Integer("Milkings", readonly=True)
    first_reading = fields.Datetime(readonly=True)
    last_reading = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("device_day_unique", "UNIQUE(device_id, day)", "One production row per device and day."),
    ]
