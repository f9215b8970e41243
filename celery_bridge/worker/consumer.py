"""The worker's consumer (the app's ``worker_consumer``): Celery's, with the refusals of
:class:`~celery_bridge.worker.task.SecretSafeConsumer`, and broker outages of any length survived.

Celery gives up reconnecting after ``broker_connection_max_retries`` and the worker exits; the app
sets it to None (for ever) and here the wait between two attempts grows by 2 s up to
``BROKER_RETRY_MAX_INTERVAL``. Meanwhile the worker says it is degraded: a log line when the
connection is lost and one when it is back (with the outage's length), Celery's own line for every
attempt, the ``celery_broker_connected`` / ``celery_broker_outage_seconds`` gauges and the
``celery_broker_reconnects_total`` counter, and ``python -m celery_bridge.worker.healthcheck``.
"""
import functools
import logging

from celery_bridge.worker import metrics
from celery_bridge.worker.task import SecretSafeConsumer, _settings

_logger = logging.getLogger(__name__)

FIRST_RETRY_INTERVAL = 2.0  # kombu's start and step of the back-off
RETRY_INTERVAL_STEP = 2.0


class BridgeConsumer(SecretSafeConsumer):

    def ensure_connected(self, conn):
        longest = max(0.1, float(_settings().broker_retry_max_interval))
        # Celery calls conn.ensure_connection(errback, max_retries, callback=...) with kombu's default
        # back-off (up to 30 s): the same call, with our ceiling.
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=min(FIRST_RETRY_INTERVAL, longest),
            interval_step=RETRY_INTERVAL_STEP, interval_max=longest)
        return super().ensure_connected(conn)

    def connection_for_read(self, heartbeat=None):
        connection = super().connection_for_read(heartbeat=heartbeat)  # returns once connected
        outage = metrics.BROKER.outage_seconds()
        if metrics.BROKER.up():
            _logger.warning("Broker connection re-established after %.0f s without it: consuming again", outage)
        return connection

    def on_connection_error_before_connected(self, exc):
        self._lost(exc)
        return super().on_connection_error_before_connected(exc)

    def on_connection_error_after_connected(self, exc):
        self._lost(exc)
        return super().on_connection_error_after_connected(exc)

    @staticmethod
    def _lost(exc):
        if metrics.BROKER.down():
            _logger.error("Broker connection lost (%s: %s): the worker is degraded and retries for ever, at most "
                          "%s s apart; jobs wait in the broker or in Odoo meanwhile", type(exc).__name__, exc,
                          _settings().broker_retry_max_interval)
