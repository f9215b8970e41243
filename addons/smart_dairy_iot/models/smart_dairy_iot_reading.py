import logging

from odoo import fields, models, tools

from celery_bridge.core import iot_catalog as catalog

_logger = logging.getLogger(__name__)


class SmartDairyIotReading(models.Model):
    """One sensor value. Written in bulk by the workers (celery_bridge.odoo_db.iot), read by Odoo's
    views as any other model; no ORM create on the hot path."""

    _name = "smart_dairy.iot.reading"
    _description = "Sensor Reading"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    # Only the workers write readings (in SQL, in the device's company): no raw create or write, whatever
    # the access rights say.
    _protected_fields = "__all__"
    _order = "timestamp desc, id desc"
    _log_access = False
    _rec_name = "metric"

    device_id = fields.Many2one("smart_dairy.iot.device", required=True, ondelete="cascade", readonly=True)
    device_type = fields.Selection(related="device_id.device_type")
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    timestamp = fields.Datetime(required=True, readonly=True)
    metric = fields.Selection(catalog.METRIC_SELECTION, required=True, readonly=True)
    value = fields.Float(required=True, readonly=True, aggregator="avg", digits=(16, 3))
    unit = fields.Char(readonly=True)
    stored_at = fields.Datetime(readonly=True, help="When the worker stored it (ingestion delay = stored at − time).")

    def init(self):
        # (device, metric, time) is unique: a redelivered MQTT message is not stored twice, and the same
        # index answers "latest value per device and metric" and per-device time ranges. BRIN keeps
        # farm-wide time ranges cheap on an append-mostly table at a fraction of a B-tree's size.
        tools.create_unique_index(
            self.env.cr, "smart_dairy_iot_reading_device_metric_time_uniq", self._table,
            ["device_id", "metric", "timestamp"],
        )
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS smart_dairy_iot_reading_device_time_idx "
            f"ON {self._table} (device_id, timestamp DESC)"
        )
        self.env.cr.execute(
            f"CREATE INDEX IF NOT EXISTS smart_dairy_iot_reading_time_brin ON {self._table} USING brin (timestamp)"
        )
        self._make_hypertable_if_possible()

    def _make_hypertable_if_possible(self):
        """With TimescaleDB available, readings become a hypertable partitioned by time."""
        cr = self.env.cr
        cr.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        if not cr.fetchone():
            return
        cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        if not cr.fetchone():
            try:
                with cr.savepoint():
                    cr.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            except Exception:  # noqa: BLE001 - not being allowed to is a reason to stay a plain table
                _logger.info("TimescaleDB is available but could not be enabled: readings stay a plain table")
                return
        # A hypertable's unique keys must contain the time column: the primary key becomes (id, timestamp).
        cr.execute(f"""
            ALTER TABLE {self._table} DROP CONSTRAINT IF EXISTS {self._table}_pkey;
            ALTER TABLE {self._table} ADD PRIMARY KEY (id, timestamp);
            SELECT create_hypertable('{self._table}', 'timestamp', migrate_data => true, if_not_exists => true);
        """)
        _logger.info("smart_dairy_iot_reading is a TimescaleDB hypertable")
