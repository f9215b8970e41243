import json
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from celery_bridge.core import limits
from celery_bridge.core import iot_catalog as catalog
from celery_bridge.core.schemas.iot import MAX_DEVICE_ID_LENGTH, MAX_READINGS_PER_JOB

PROCESS_TASK = "smart_dairy.iot.process_sensor_data"
# Bytes of JSON text one reading may take on average when a batch's readings come as text.
MAX_READING_TEXT_BYTES = 256


class SmartDairyIotDevice(models.Model):
    _name = "smart_dairy.iot.device"
    _description = "Farm IoT Device"
    _inherit = ["mail.thread", "smart_dairy.protected.fields.mixin"]
    _order = "state, name"
    _check_company_auto = True
    # Set by the workers from the readings (and by the maintenance actions): a manager configures a
    # device (name, code, type, location, critical), never fakes that it is online or what it measured.
    _protected_fields = ("state", "last_seen", "latest_values")

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
            if len(device.device_code) > MAX_DEVICE_ID_LENGTH:
                raise ValidationError(self.env._("A device ID has at most %(max)s characters.",
                                                 max=MAX_DEVICE_ID_LENGTH))

    def action_start_maintenance(self):
        # IoT managers of the device's company (write right and record rule), checked here, not by the button.
        self.check_access("write")
        self._system_write({"state": "maintenance"})
        return True  # a button's answer, and an XML-RPC caller's (None cannot be marshalled)

    def action_end_maintenance(self):
        self.check_access("write")
        if self.filtered(lambda device: device.state != "maintenance"):
            raise UserError(self.env._("Only a device in maintenance can end it."))
        # Back to offline: the next reading proves it online.
        self._system_write({"state": "offline"})
        return True

    def action_view_alerts(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("smart_dairy_iot.smart_dairy_iot_alert_action")
        action["domain"] = [("device_id", "=", self.id)]
        action["context"] = {"default_device_id": self.id}
        return action

    def action_view_readings(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("smart_dairy_iot.smart_dairy_iot_reading_action")
        action["domain"] = [("device_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.model
    def submit_readings(self, batches):
        """Queue readings for processing: ``batches`` is a list of {"device_id": <device ID>,
        "readings": [{"metric", "value", "ts", "unit"?} or [metric, value, ts], …]} (readings may also be
        that list as JSON text, which is much cheaper over XML-RPC). One process_sensor_data job per batch
        (a batch above MAX_READINGS_PER_JOB readings is split), created in one INSERT per company.
        Called by the MQTT ingestion bridge (as the bridge user) and by IoT gateways that push over
        XML-RPC; the caller must be allowed to dispatch process_sensor_data (its task type's *May
        Dispatch* groups: IoT managers and the bridge).

        At most ``limits.MAX_READING_BATCHES_PER_CALL`` batches and ``limits.MAX_READINGS_PER_CALL``
        readings per call: a call over either is refused whole, nothing queued.

        A device ID is looked up among the devices of the caller's allowed companies only, and its
        batch is queued in that device's company. A device ID none of them has — never registered,
        archived, or another company's — is queued in the caller's current company, where the worker
        finds no such device and counts the readings ``unknown_device`` (so another company's device
        is never reached, and the call does not tell whether it exists). Returns the number of jobs
        queued."""
        # Refuse callers who may not start the task before looking at anything (an empty call included).
        task = self.env.ref("smart_dairy_iot.task_iot_process_sensor_data")
        task._check_may_dispatch(self.env.user, self.env.company)
        parsed = self._parse_reading_batches(batches)
        companies = self.env.companies
        # sudo: the bridge user has no read right on devices; the search is limited to the caller's own
        # allowed companies right here, and only each device's company is read.
        devices = self.sudo().search([
            ("device_code", "in", list({code for code, _readings in parsed})),
            ("company_id", "in", companies.ids),
        ])
        company_by_code = {device.device_code: device.company_id for device in devices}
        requests_by_company = defaultdict(list)
        for device_code, readings in parsed:
            company = company_by_code.get(device_code, self.env.company)
            for start in range(0, len(readings), MAX_READINGS_PER_JOB):
                requests_by_company[company].append({
                    "task_name": PROCESS_TASK,
                    "args": [device_code, readings[start:start + MAX_READINGS_PER_JOB]],
                })
        Job = self.env["smart_dairy.job"]
        queued = 0
        for company, requests in requests_by_company.items():
            # As the caller, in the device's company: the job's rights and company checks (task groups,
            # schema, limits) apply to each company's group; one INSERT per company (and per
            # MAX_DISPATCH_MANY jobs), never one per device.
            for start in range(0, len(requests), limits.MAX_DISPATCH_MANY):
                chunk = requests[start:start + limits.MAX_DISPATCH_MANY]
                Job.with_company(company)._dispatch_many(chunk, origin="iot")
                queued += len(chunk)
        return queued

    @api.model
    def _parse_reading_batches(self, batches):
        """[(device code, readings list)] of a submit_readings call, after its limits; raises
        ValidationError (nothing written) on a bad shape or a call over a limit."""
        if not isinstance(batches, list):
            raise ValidationError(self.env._("batches must be a list of {device_id, readings}."))
        if len(batches) > limits.MAX_READING_BATCHES_PER_CALL:
            raise ValidationError(self.env._(
                "At most %(max)s batches per submit_readings call, not %(count)s: split the call.",
                max=limits.MAX_READING_BATCHES_PER_CALL, count=len(batches)))
        # Readings given as JSON text are bounded before they are parsed: a reading is well under this.
        max_text = limits.MAX_READINGS_PER_CALL * MAX_READING_TEXT_BYTES
        parsed, total = [], 0
        for batch in batches:
            batch = batch if isinstance(batch, dict) else {}
            device_code, readings = batch.get("device_id"), batch.get("readings")
            if isinstance(readings, str):
                if len(readings) > max_text:
                    raise ValidationError(self.env._(
                        "The readings of device %(device)s are %(size)s characters of JSON; at most %(max)s "
                        "per call.", device=str(device_code)[:MAX_DEVICE_ID_LENGTH], size=len(readings),
                        max=max_text))
                try:
                    readings = json.loads(readings)
                except ValueError:
                    readings = None
            if not isinstance(device_code, str) or not isinstance(readings, list):
                raise ValidationError(self.env._(
                    "Each batch needs a device_id (string) and readings (a list, or a JSON array as text)."))
            if not device_code or len(device_code) > MAX_DEVICE_ID_LENGTH:
                raise ValidationError(self.env._(
                    "A device_id has 1 to %(max)s characters, not %(count)s.",
                    max=MAX_DEVICE_ID_LENGTH, count=len(device_code)))
            total += len(readings)
            if total > limits.MAX_READINGS_PER_CALL:
                raise ValidationError(self.env._(
                    "At most %(max)s readings per submit_readings call (all batches together): split the call.",
                    max=limits.MAX_READINGS_PER_CALL))
            parsed.append((device_code, readings))
        return parsed
