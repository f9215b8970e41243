import logging
from datetime import datetime, timezone

from redis.exceptions import RedisError

from odoo import api, fields, models
from odoo.exceptions import UserError

from celery_bridge.broker import circuit
from celery_bridge.broker.redis_state import redis_client

_logger = logging.getLogger(__name__)


def _to_datetime(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None, microsecond=0) if timestamp else False


class SmartDairyJobCircuit(models.Model):
    """What the workers' circuit breaker (kept in Redis) says of one external service."""

    _name = "smart_dairy.job.circuit"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    _description = "External Service Circuit Breaker"
    _order = "service"
    _rec_name = "service"
    # What Redis says of the breaker; Jobs managers set its threshold and recovery timeout, and reset it.
    _protected_fields = ("state", "failures", "opened_at", "last_failure_at", "synced_at")

    service = fields.Char(required=True, readonly=True)
    state = fields.Selection(circuit.STATES, default=circuit.CLOSED, readonly=True)
    failures = fields.Integer(string="Consecutive Failures", readonly=True)
    threshold = fields.Integer(default=circuit.DEFAULT_THRESHOLD, required=True,
                               help="Consecutive failures that open the circuit.")
    recovery_timeout = fields.Float(string="Recovery Timeout (s)", default=circuit.DEFAULT_RECOVERY, required=True,
                                    help="How long the circuit stays open before one probe may go through.")
    opened_at = fields.Datetime(readonly=True)
    last_failure_at = fields.Datetime(readonly=True)
    synced_at = fields.Datetime(string="Read From Redis At", readonly=True)

    _sql_constraints = [
        ("service_unique", "UNIQUE(service)", "One circuit per service."),
        ("threshold_positive", "CHECK(threshold > 0 AND recovery_timeout > 0)",
         "Threshold and recovery timeout must be positive."),
    ]

    @api.model
    def _redis(self):
        from ..engine import odoo_side_settings

        settings = odoo_side_settings()
        return redis_client(settings.state_redis_url or settings.celery_broker_url)

    @api.model
    def _cron_sync(self):
        try:
            self.sudo().action_refresh()
        except Exception:  # noqa: BLE001 - Redis down: the view keeps its last reading
            _logger.warning("Could not read circuit breakers from Redis", exc_info=True)

    def action_refresh(self):
        """Read every breaker the workers know from Redis (any Jobs user may ask: it only mirrors Redis)."""
        self.browse().check_access("read")  # Jobs users; not the bridge, nor users without Jobs rights
        try:
            statuses = circuit.all_statuses(self._redis())
        except RedisError as exc:
            raise UserError(self.env._("Redis cannot be read right now: %(error)s", error=exc)) from None
        mirror = self.sudo().with_context(circuit_read_from_redis=True)
        existing = {record.service: record for record in mirror.search([])}
        now = fields.Datetime.now()
        for status in statuses:
            vals = {
                "state": status["state"],
                "failures": status["failures"],
                "threshold": status["threshold"],
                "recovery_timeout": status["recovery_timeout"],
                "opened_at": _to_datetime(status["opened_at"]),
                "last_failure_at": _to_datetime(status["last_failure_at"]),
                "synced_at": now,
            }
            record = existing.get(status["service"])
            if record:
                record.write(vals)
            else:
                mirror.create([dict(vals, service=status["service"])])
        return True

    def action_reset(self):
        """Close the circuit now (after the service was repaired)."""
        self.check_access("write")  # Jobs managers only: the reset itself happens in Redis
        try:
            for record in self:
                circuit.CircuitBreaker(self._redis(), record.service).reset()
        except RedisError as exc:
            raise UserError(self.env._("Redis cannot be reached right now: %(error)s", error=exc)) from None
        return self.action_refresh()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._push_config()
        return records

    def write(self, vals):
        result = super().write(vals)
        if {"threshold", "recovery_timeout"} & set(vals):
            self._push_config()
        return result

    def _push_config(self):
        if self.env.context.get("circuit_read_from_redis"):
            return  # these values just came from Redis
        try:
            for record in self:
                circuit.CircuitBreaker(self._redis(), record.service).configure(record.threshold,
                                                                                record.recovery_timeout)
        except RedisError as exc:
            if self.env.context.get("install_mode"):
                # Seeded while the module installs or updates, maybe before Redis is there: the workers
                # use the same defaults (circuit.DEFAULT_THRESHOLD / DEFAULT_RECOVERY) until it is pushed.
                _logger.warning("Circuit settings of %s not pushed to Redis yet: %s", ", ".join(self.mapped("service")),
                                exc)
                return
            raise UserError(self.env._("The workers' breakers live in Redis, which cannot be reached right now: "
                                       "%(error)s", error=exc)) from None
