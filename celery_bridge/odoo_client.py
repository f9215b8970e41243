"""The workers' way back into Odoo: XML-RPC with timeouts and reconnects, and batched reports.

The bridge calls exactly one Odoo method, ``smart_dairy.job.bridge_report``, as the technical user
with its API key; nothing in a broker message can change what is called or as whom.
"""
import atexit
import logging
import os
import queue
import threading
import time
import xmlrpc.client

_logger = logging.getLogger(__name__)

REPORT_MODEL = "smart_dairy.job"
REPORT_METHOD = "bridge_report"


class OdooAuthError(Exception):
    """Odoo refused the bridge's login or API key."""


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class _SafeTimeoutTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


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
            if "AccessDenied" in fault.faultString or "Access Denied" in fault.faultString:
                self._uid = None
                raise OdooAuthError(fault.faultString) from None
            raise

    def report(self, reports):
        return self.execute(REPORT_MODEL, REPORT_METHOD, reports)


class Reporter:
    """Collects job reports and sends them to Odoo in batches from a background thread.

    The thread sends whatever has queued up while the previous call was in flight, so batches grow
    with load and a lone report goes out at once.  A report that could not be delivered is retried,
    never dropped.
    """

    def __init__(self, client_factory, batch_size=200, retry_max_delay=30.0):
        self._client_factory = client_factory
        self._batch_size = batch_size
        self._retry_max_delay = retry_max_delay
        self._queue = queue.Queue()
        self._unfinished = 0
        self._lock = threading.Condition()
        self._thread = None
        self._pid = None
        self.sent_batches = 0

    def submit(self, report):
        self._ensure_thread()
        with self._lock:
            self._unfinished += 1
        self._queue.put(report)

    def flush(self, timeout=10.0):
        """Wait until every submitted report is delivered; False if ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def _ensure_thread(self):
        # A prefork child inherits the parent's object but not its thread: start one per process.
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue()
                    self._unfinished = 0
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="odoo-reporter", daemon=True)
                self._thread.start()

    def _run(self):
        client = self._client_factory()
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._deliver(client, batch)
            with self._lock:
                self._unfinished -= len(batch)
                self._lock.notify_all()

    def _deliver(self, client, batch):
        delay = 0.5
        while True:
            try:
                outcomes = client.report(batch)
                self.sent_batches += 1
                for outcome in outcomes or ():
                    if outcome.get("status") not in ("applied", "ignored"):
                        _logger.warning("Odoo did not take report %s: %s", outcome.get("uuid"), outcome.get("message"))
                return
            except xmlrpc.client.Fault as fault:
                # Odoo refused the batch as malformed: find the culprit by sending the reports one
                # by one, so one bad report cannot hold back the others forever.
                if len(batch) > 1:
                    for report in batch:
                        self._deliver(client, [report])
                    return
                _logger.error("Odoo refused report %r: %s", batch[0].get("uuid"), fault.faultString)
                return
            except Exception as exc:  # noqa: BLE001 - Odoo down, auth revoked, network: retry
                _logger.error("Could not deliver %d report(s) to Odoo: %s", len(batch), exc)
            time.sleep(delay)
            delay = min(delay * 2, self._retry_max_delay)


_reporter = None


def get_reporter(settings):
    global _reporter
    if _reporter is None:
        _reporter = Reporter(lambda: OdooClient(settings), batch_size=settings.report_batch_size)
        atexit.register(_reporter.flush, 10.0)
    return _reporter
