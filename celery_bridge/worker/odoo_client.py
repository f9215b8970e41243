"""The workers' way back into Odoo: XML-RPC with timeouts and reconnects, and batched reports.

A worker tells Odoo things through one channel, the ordered report spool (``Reporter``, which calls
``smart_dairy.job.bridge_report``: job states, progress, heartbeats of jobs and their files), and asks
it questions through one other, ``OdooClient.ask``, limited to the names of
celery_bridge.core.bridge_api.QUESTIONS. Both run as the technical user with its API key; nothing in
a broker message can change what is called or as whom.
"""
import atexit
import json
import logging
import os
import socket
import threading
import time
import xmlrpc.client

from redis import exceptions as redis_errors

from celery_bridge.core import bridge_api, protocol, worker_reports

_logger = logging.getLogger(__name__)

REPORT_MODEL = "smart_dairy.job"
REPORT_METHOD = "bridge_report"
ODOO_ACCESS_DENIED = 3  # XML-RPC fault code of a wrong login or API key


class OdooAuthError(Exception):
    """Odoo refused the bridge's login or API key."""


class _TimeoutMixin:
    """xmlrpc.client's transports have no timeout of their own: set one on each connection."""

    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class _TimeoutTransport(_TimeoutMixin, xmlrpc.client.Transport):
    pass


class _SafeTimeoutTransport(_TimeoutMixin, xmlrpc.client.SafeTransport):
    pass


class OdooClient:
    """A small XML-RPC client that logs in once and reconnects on transport errors."""

    def __init__(self, settings, attempts=3):
        self.settings = settings
        self.attempts = attempts
        self._uid = None

    def _proxy(self, endpoint):
        url = f"{self.settings.odoo_url.rstrip('/')}/xmlrpc/2/{endpoint}"
        transport_class = _SafeTimeoutTransport if url.startswith("https") else _TimeoutTransport
        return xmlrpc.client.ServerProxy(
            url, transport=transport_class(self.settings.rpc_timeout), allow_none=True
        )

    def authenticate(self):
        settings = self.settings
        if not settings.odoo_api_key:
            raise OdooAuthError("ODOO_API_KEY is not set: issue the bridge user's API key in Odoo first")
        uid = self._call(
            lambda: self._proxy("common").authenticate(
                settings.odoo_db, settings.odoo_login, settings.odoo_api_key, {}
            )
        )
        if not uid:
            raise OdooAuthError(f"Odoo refused login {settings.odoo_login!r} on database {settings.odoo_db!r}")
        self._uid = uid
        return uid

    def _call(self, func):
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                return func()
            except (OSError, xmlrpc.client.ProtocolError) as exc:
                if attempt == self.attempts:
                    raise
                _logger.warning("Odoo unreachable (%s), retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5)

    def execute(self, model, method, *args):
        if self._uid is None:
            self.authenticate()
        settings = self.settings
        try:
            return self._call(
                lambda: self._proxy("object").execute_kw(
                    settings.odoo_db, self._uid, settings.odoo_api_key, model, method, list(args)
                )
            )
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == ODOO_ACCESS_DENIED or "Access Denied" in str(fault.faultString):
                self._uid = None
                raise OdooAuthError(fault.faultString) from None
            raise

    def report(self, reports):
        return self.execute(REPORT_MODEL, REPORT_METHOD, reports)

    def ask(self, question, *args):
        """Odoo's answer to one of the bridge API's questions (celery_bridge.core.bridge_api)."""
        if question not in bridge_api.QUESTIONS:
            raise ValueError(f"{question!r} is not a question of the bridge API")
        return self.execute(bridge_api.BRIDGE_MODEL, question, *args)


class Reporter:
    """Sends job reports to Odoo in batches, from a spool in Redis that survives Odoo being down.

    ``submit`` appends to one Redis list shared by every worker process, so a report outlives the
    process that made it. Whichever process holds the spool's lock sends what has queued up, oldest
    first, in batches; reports are removed only once Odoo has taken them, so a report is delivered
    at least once and in order (Odoo ignores the repeats). Every process that submitted drains, and
    so does every worker's main process from its start (``start``) and at each heartbeat
    (``wake``): a spool left by a killed worker is sent by whichever worker runs, even an idle one.
    """

    LOCK_MS = 30000

    def __init__(self, redis, client_factory, batch_size=200, key=protocol.REPORT_SPOOL_KEY, retry_max_delay=30.0,
                 linger=0.005):
        self.redis = redis
        self.key = key
        self.lock_key = key + ":lock"
        self._client_factory = client_factory
        self._batch_size = batch_size
        self._retry_max_delay = retry_max_delay
        self._linger = linger
        self._wake = threading.Event()
        self._thread = None
        self._pid = None
        self._client = None
        self.sent_batches = 0
        self._trim_if_owner = redis.register_script(
            "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('LTRIM', KEYS[1], ARGV[2], -1) return 1 end return 0"
        )
        self._release_if_owner = redis.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
        )

    def submit(self, report):
        self.redis.rpush(self.key, json.dumps(report))
        self.wake()

    def start(self):
        """Drain the spool from this process from now on, whether or not it reports anything itself:
        a worker's main process calls it at start, so an idle worker sends what others left."""
        self.wake()

    def wake(self):
        """Look at the spool now (the drain thread also looks every second on its own)."""
        self._ensure_thread()
        self._wake.set()

    def pending(self):
        return self.redis.llen(self.key)

    def flush(self, timeout=10.0):
        """Wait until the spool is empty; False if ``timeout`` ran out first."""
        self._ensure_thread()
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.02)
        return True

    def _ensure_thread(self):
        # A prefork child inherits the parent's object but not its thread: start one per process.
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            self._pid = os.getpid()
            self._wake = threading.Event()
            self._thread = threading.Thread(target=self._run, name="odoo-reporter", daemon=True)
            self._thread.start()

    def _run(self):
        redis_away_since = None
        while True:
            # Also wake now and then without news: another process may have died with a full spool.
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                self._drain()
                if redis_away_since is not None:
                    _logger.warning("Report spool reachable again after %.0f s", time.monotonic() - redis_away_since)
                    redis_away_since = None
            except redis_errors.ConnectionError as exc:
                # An outage: one line when it starts, not a traceback a second (the consumer logs its retries).
                if redis_away_since is None:
                    redis_away_since = time.monotonic()
                    _logger.warning("Report spool unreachable (%s); its reports wait in Redis", exc)
                time.sleep(1.0)
            except Exception:  # noqa: BLE001 - anything else: the spool is still there next time
                _logger.exception("Report spool could not be drained")
                time.sleep(1.0)

    def _drain(self):
        token = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        if not self.redis.set(self.lock_key, token, nx=True, px=self.LOCK_MS):
            if self.pending():
                time.sleep(0.02)
                self._wake.set()  # another process is sending; look again shortly
            return
        try:
            if self._client is None:
                self._client = self._client_factory()
            while True:
                raw = self.redis.lrange(self.key, 0, self._batch_size - 1)
                if not raw:
                    return
                batch = [json.loads(item) for item in raw]
                if self._linger and len(raw) < self._batch_size and all(
                        report.get("state") == "started" for report in batch):
                    # A quick task's success follows its start within milliseconds: waiting that long
                    # sends both in one call instead of two, halving its latency.
                    time.sleep(self._linger)
                    raw = self.redis.lrange(self.key, 0, self._batch_size - 1)
                    batch = [json.loads(item) for item in raw]
                batch = alone_if_file(batch)
                self._deliver(batch, token)
                if not self._trim_if_owner(keys=[self.key, self.lock_key], args=[token, len(batch)]):
                    return  # our lock lapsed during a long outage; its new owner resends: harmless
        finally:
            self._release_if_owner(keys=[self.lock_key], args=[token])

    def _deliver(self, batch, token):
        delay = 0.5
        while True:
            try:
                self._send(batch)
                return
            except Exception as exc:  # noqa: BLE001 - Odoo down, auth revoked, network: retry
                _logger.error("Could not deliver %d report(s) to Odoo (kept in the spool): %s", len(batch), exc)
            self.redis.pexpire(self.lock_key, self.LOCK_MS)
            time.sleep(delay)
            delay = min(delay * 2, self._retry_max_delay)

    def _send(self, batch):
        try:
            outcomes = self._client.report(batch)
        except xmlrpc.client.Fault as fault:
            # Odoo refused the batch as malformed: send the reports one by one, so one bad report
            # cannot hold back the others forever.
            if len(batch) > 1:
                for report in batch:
                    self._send([report])
                return
            _logger.error("Odoo refused report %r: %s", batch[0].get("uuid"), fault.faultString)
            return
        self.sent_batches += 1
        for outcome in outcomes or ():
            if outcome.get("status") not in protocol.TAKEN_OUTCOMES:
                _logger.warning("Odoo did not take report %s: %s", outcome.get("uuid"), outcome.get("message"))


def alone_if_file(batch):
    """The head of ``batch`` that goes in one call: a file report (it may weigh up to
    worker_reports.MAX_FILE_BYTES) alone, otherwise the reports before the first file report. Order is kept."""
    for index, report in enumerate(batch):
        if report.get("kind") == worker_reports.FILE:
            return batch[:index] or batch[:1]
    return batch


_reporter = None
_client = None


def get_client(settings):
    """This process's Odoo client, logged in once, for tasks that ask Odoo something."""
    global _client
    if _client is None or _client.settings is not settings:
        _client = OdooClient(settings)
    return _client


def get_reporter(settings):
    global _reporter
    if _reporter is None:
        from celery_bridge.broker.redis_state import redis_client

        _reporter = Reporter(redis_client(settings.state_redis_url or settings.celery_broker_url),
                             lambda: OdooClient(settings), batch_size=settings.report_batch_size)
        atexit.register(_reporter.flush, 5.0)
    return _reporter
