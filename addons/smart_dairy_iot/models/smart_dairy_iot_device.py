import json

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.iot import catalog

PROCESS_TASK = "smart_dairy.iot.process_sensor_data"
# One job per device batch; a batch bigger than this is split so one job stays well inside 30 s.
MAX_READINGS_PER_JOB = 2000


class SmartDairyIotDevice(models.Model):
    _name = "smart_dairy.iot.device"
    _description = "Farm IoT Device"
    _inherit = ["mail.thread"]
    _order = "state, name"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    device_code = fields.Char(
        "Device ID", required=True, index=True, copy=False, tracking=True,
        help="The id the device publishes under: smartdairy/<farm>/<device id>/readings.",
    )
    device_type = fields.Selection(catalog.DEVICE_TYPES, required=True, tracking=True)
    location = fields.Char(help="Barn, parlour stall, tank room…")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    state = fields.Selection(
        [("online", "Online"), ("offline", "Offline"), ("maintenance", "Maintenance")],
        default="offline", required=True, tracking=True, index=True,
        help="Online while readings arrive; offline after %d minutes of silence; maintenance stops both."
        % catalog.OFFLINE_AFTER_MINUTES,
    )
    last_seen = fields.Datetime(readonly=True, help="Time of the newest reading stored.")
    latest_values = fields.Json(readonly=True)
    latest_values_text = fields.Text("Latest values", compute="_compute_latest_values_text")
    is_critical = fields.Boolean(
        "Critical", help="Its alerts and its silence are critical: the 5-minute health check notifies managers.")
    active = fields.Boolean(default=True)
    color = fields.Integer(compute="_compute_color")
    open_alert_count = fields.Integer(compute="_compute_open_alert_count")
    alert_ids = fields.One2many("smart_dairy.iot.alert", "device_id")

    _sql_constraints = [
        ("device_code_unique", "UNIQUE(device_code)", "Another device already has this device ID."),
    ]

    @api.depends("latest_values")
    def _compute_latest_values_text(self):
        labels = {metric.name: metric.label for metric in catalog.METRICS.values()}
        for device in self:
            values = device.latest_values or {}
            device.latest_values_text = "\n".join(
                f"{labels.get(metric, metric)}: {entry.get('value'):g} {entry.get('unit', '')}"
                for metric, entry in sorted(values.items())
                if isinstance(entry, dict) and isinstance(entry.get("value"), (int, float))
            )

    @api.depends("state")
    def _compute_color(self):
        colors = {"online": 10, "offline": 1, "maintenance": 3}  # green, red, yellow in Odoo's palette
        for device in self:
            device.color = colors.get(device.state, 0)

    @api.depends("alert_ids.state")
    def _compute_open_alert_count(self):
        counts = dict(self.env["smart_dairy.iot.alert"]._read_group(
            [("device_id", "in", self.ids), ("state", "in", ("new", "acknowledged"))],
            ["device_id"], ["__count"],
        ))
        for device in self:
            device.open_alert_count = counts.get(device, 0)

    @api.constrains("device_code")
    def _check_device_code(self):
        for device in self:
            if not device.device_code.strip() or any(ch in device.device_code for ch in "/+# "):
                raise ValidationError(self.env._("A device ID cannot be empty nor contain '/', '+', '#' or spaces "
                                        "(it is a level of an MQTT topic)."))

    def action_start_maintenance(self):
        self.write({"state": "maintenance"})

    def action_end_maintenance(self):
        # Back to offline: the next reading proves it online.
        self.write({"state": "offline"})

    def action_view_alerts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("smart_dairy_iot.smart_dairy_iot_alert_action")
        action["domain"] = [("device_id", "=", self.id)]
        action["context"] = {"default_device_id": self.id}
        return action

    def action_view_readings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("smart_dairy_iot.smart_dairy_iot_reading_action")
        action["domain"] = [("device_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.model
    def submit_readings(self, batches):
        """Queue readings for processing: ``batches`` is a list of {"device_id": <device ID>,
        "readings": [{"metric", "value", "ts", "unit"?} or [metric, value, ts], …]} (readings may also be
        that list as JSON text, which is much cheaper over XML-RPC). One process_sensor_data job per batch,
        all created in one INSERT. Called by the MQTT ingestion bridge (as the bridge user) and by
        IoT gateways that push over XML-RPC. Returns the number of jobs queued."""
        user = self.env.user
        if not (self.env.su or user.has_group("smart_dairy_jobs.group_bridge")
                or user.has_group("smart_dairy_iot.group_manager")):
            raise AccessError(self.env._("Only the Celery bridge and IoT managers may submit readings."))
        if not isinstance(batches, list):
            raise ValidationError(self.env._("batches must be a list of {device_id, readings}."))
        requests = []
        for batch in batches:
            batch = batch if isinstance(batch, dict) else {}
            device_code, readings = batch.get("device_id"), batch.get("readings")
            if isinstance(readings, str):
                try:
                    readings = json.loads(readings)
                except ValueError:
                    readings = None
            if not isinstance(device_code, str) or not isinstance(readings, list):
                raise ValidationError(self.env._(
                    "Each batch needs a device_id (string) and readings (a list, or a JSON array as text)."))
            for start in range(0, len(readings), MAX_READINGS_PER_JOB):
                requests.append({
                    "task_name": PROCESS_TASK,
                    "args": [device_code, readings[start:start + MAX_READINGS_PER_JOB]],
                })
        if requests:
            self.env["smart_dairy.job"].sudo()._dispatch_many(requests, origin="iot")
        return len(requests)
