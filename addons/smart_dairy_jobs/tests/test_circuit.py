import uuid

from odoo.exceptions import AccessError

from celery_bridge.broker import circuit

from .common import SmartDairyJobsCase


class TestCircuitView(SmartDairyJobsCase):
    """The Odoo view of breakers the workers keep in Redis (the real Redis the publisher uses)."""

    def setUp(self):
        super().setUp()
        self.Circuit = self.env["smart_dairy.job.circuit"]
        self.redis = self.Circuit._redis()
        self.service = f"test-gateway-{uuid.uuid4().hex[:8]}"
        self.addCleanup(self._forget_service)

    def _forget_service(self):
        self.redis.delete(circuit.PREFIX + self.service, circuit.PREFIX + self.service + ":probe")
        self.redis.srem(circuit.INDEX, self.service)

    def test_settings_made_in_odoo_reach_the_workers(self):
        self.Circuit.with_user(self.jobs_manager).create(
            {"service": self.service, "threshold": 2, "recovery_timeout": 30})
        status = circuit.CircuitBreaker(self.redis, self.service).status()
        self.assertEqual((status["threshold"], status["recovery_timeout"]), (2, 30.0))

    def test_refresh_shows_what_the_workers_recorded_and_reset_closes(self):
        breaker = circuit.CircuitBreaker(self.redis, self.service)
        breaker.configure(threshold=1, recovery_timeout=60)
        breaker.record_failure()
        self.Circuit.with_user(self.jobs_user).action_refresh()
        record = self.Circuit.search([("service", "=", self.service)])
        self.assertEqual((record.state, record.failures), ("open", 1))
        self.assertTrue(record.opened_at)
        with self.assertRaises(AccessError):
            record.with_user(self.jobs_user).action_reset()
        record.with_user(self.jobs_manager).action_reset()
        self.assertEqual(record.state, "closed")
        self.assertTrue(breaker.admit().allowed)
