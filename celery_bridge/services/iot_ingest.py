"""MQTT ingestion bridge: devices' messages in, process_sensor_data jobs out.

    sdj-iot-ingest      (or python -m celery_bridge.services.iot_ingest)
    settings: MQTT_URL, MQTT_TOPIC, ODOO_* … see config.py

Devices publish JSON to ``smartdairy/<farm>/<device_id>/readings``. The bridge gathers each device's
readings for ``iot_batch_window`` seconds (or ``iot_batch_size`` readings) and hands every batch that
is due to Odoo in one XML-RPC call (``smart_dairy.iot.device.submit_readings``), which records one job
per batch; workers then validate and store them. Malformed messages are counted, logged and dropped;
the bridge reconnects by itself after a broker restart and keeps batches Odoo could not take yet.
"""
import json
import logging
import signal
import threading
import time
import xmlrpc.client
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from celery_bridge.core import limits
from celery_bridge.core.schemas.iot import MAX_DEVICE_ID_LENGTH
from celery_bridge.core import iot_catalog as catalog

_logger = logging.getLogger("celery_bridge.services.iot_ingest")

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS_PER_MESSAGE = 5000

BAD_TOPIC = "bad_topic"
NOT_JSON = "not_json"
BAD_SHAPE = "bad_shape"
EMPTY = "empty"
TOO_LARGE = "too_large"
# Batches Odoo refused as bad input even when sent alone (counted per batch): resending would not help.
REFUSED = "refused_by_odoo"
# Odoo's XML-RPC fault code for a ValidationError/UserError (bad input, nothing written).
ODOO_BAD_INPUT = 2

# Metric names of the bridge's Prometheus endpoint.
# counter, label outcome = accepted | <malformed reason> | refused_by_odoo (batches Odoo refused as bad input)
MESSAGES_METRIC = "smart_dairy_iot_mqtt_messages"
READINGS_METRIC = "smart_dairy_iot_readings_submitted"  # counter: readings Odoo accepted as jobs
BACKLOG_METRIC = "smart_dairy_iot_backlog_readings"  # gauge: readings gathered, not yet taken by Odoo
CONNECTED_METRIC = "smart_dairy_iot_mqtt_connected"  # gauge: 1 while connected to the MQTT broker


class Malformed(Exception):
    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def parse_message(topic, payload):
    """(device_id, readings) of one MQTT message, or Malformed with the reason.

    Payloads: one reading ``{"metric", "value", "ts", "unit"?}``, a list of them, ``{"readings": [...]}``,
    or several metrics sharing a time ``{"ts": ..., "values": {"metric": value, ...}}``. Readings are
    checked one by one later, by the worker (it knows the device's type); here only the shape.
    """
    levels = topic.split("/")
    if len(levels) != 4 or levels[0] != "smartdairy" or levels[3] != "readings" or not levels[1] or not levels[2]:
        raise Malformed(BAD_TOPIC, topic)
    if len(levels[2]) > MAX_DEVICE_ID_LENGTH:  # Odoo would refuse the whole call for it
        raise Malformed(BAD_TOPIC, f"device id longer than {MAX_DEVICE_ID_LENGTH} characters")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Malformed(TOO_LARGE, f"{len(payload)} bytes")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(NOT_JSON, str(exc)[:80]) from None
    if isinstance(data, dict) and isinstance(data.get("values"), dict):
        stamp = data.get("ts", data.get("timestamp"))
        readings = [{"metric": metric, "value": value, "ts": stamp} for metric, value in data["values"].items()]
    elif isinstance(data, dict) and "readings" in data:
        readings = data["readings"]
    elif isinstance(data, dict) and "metric" in data:
        readings = [data]
    else:
        readings = data
    if not isinstance(readings, list) or not all(isinstance(item, dict) for item in readings):
        raise Malformed(BAD_SHAPE, "expected a reading, a list of readings, {readings: [...]} or {ts, values: {}}")
    if not readings:
        raise Malformed(EMPTY)
    if len(readings) > MAX_READINGS_PER_MESSAGE:
        raise Malformed(TOO_LARGE, f"{len(readings)} readings")
    return levels[2], readings


def odoo_calls(batches, max_batches=limits.MAX_READING_BATCHES_PER_CALL, max_readings=limits.MAX_READINGS_PER_CALL):
    """The batches as the submit_readings calls Odoo takes: at most ``max_batches`` batches and
    ``max_readings`` readings per call (a bigger batch is cut in parts), in order. A backlog grown
    while Odoo was down would otherwise be refused whole, again and again."""
    calls, call, count = [], [], 0
    for batch in batches:
        readings = batch["readings"]
        for start in range(0, max(len(readings), 1), max_readings):
            part = readings[start:start + max_readings]
            if call and (len(call) >= max_batches or count + len(part) > max_readings):
                calls.append(call)
                call, count = [], 0
            call.append({"device_id": batch["device_id"], "readings": part})
            count += len(part)
    if call:
        calls.append(call)
    return calls


def is_bad_input(exc):
    """Odoo refused the call as bad input (a clean fault, nothing written): resending it will not help."""
    return isinstance(exc, xmlrpc.client.Fault) and exc.faultCode == ODOO_BAD_INPUT


class Batcher:
    """Per-device batches closed by age (``window`` seconds since their first reading) or size."""

    def __init__(self, window, max_size, clock=time.monotonic):
        self.window = window
        self.max_size = max_size
        self.clock = clock
        self._open = {}  # device_id -> (opened_at, readings)
        self._closed = []
        self._lock = threading.Lock()

    def add(self, device_id, readings):
        with self._lock:
            opened_at, batch = self._open.setdefault(device_id, (self.clock(), []))
            batch.extend(readings)
            if len(batch) >= self.max_size:
                del self._open[device_id]
                self._closed.append({"device_id": device_id, "readings": batch})

    def take_due(self, everything=False):
        """Batches whose window has passed (all of them with ``everything``), oldest first."""
        with self._lock:
            now = self.clock()
            due = self._closed
            self._closed = []
            for device_id, (opened_at, batch) in list(self._open.items()):
                if everything or now - opened_at >= self.window:
                    del self._open[device_id]
                    due.append({"device_id": device_id, "readings": batch})
            return due

    def pending_readings(self):
        with self._lock:
            return sum(len(batch) for _t, batch in self._open.values()) + sum(
                len(batch["readings"]) for batch in self._closed)


class Ingestor:
    def __init__(self, settings, submit, registry=None):
        self.settings = settings
        self.submit = submit  # callable(batches) -> number of jobs; raises when Odoo cannot take them
        self.batcher = Batcher(settings.iot_batch_window, settings.iot_batch_size)
        self.backlog = []  # batches Odoo has not taken yet, retried in order
        self.max_in_flight = 2
        self._in_flight = 0
        self._lock = threading.Lock()
        self.counts = Counter()
        self.stopping = threading.Event()
        self.client = None
        self._retry_at = 0.0
        self._retry_delay = 1.0
        self._metrics = _Metrics(registry) if registry is not None else None

    # --- MQTT side (paho's network thread) ---
    def on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            _logger.warning("MQTT broker refused the connection: %s", reason_code)
            return
        client.subscribe(self.settings.mqtt_topic, qos=1)
        self._set_connected(1)
        _logger.info("connected to the MQTT broker; subscribed to %s", self.settings.mqtt_topic)

    def on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self._set_connected(0)
        if not self.stopping.is_set():
            _logger.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def on_message(self, client, userdata, message):
        try:
            device_id, readings = parse_message(message.topic, message.payload)
        except Malformed as exc:
            self._count(exc.reason)
            # One line for the first few of each reason, then one per thousand: a broken device cannot
            # flood the log.
            if self.counts[exc.reason] <= 10 or self.counts[exc.reason] % 1000 == 0:
                _logger.warning("malformed MQTT message on %r dropped (%s; %d so far)",
                                message.topic[:200], exc, self.counts[exc.reason])
            return
        self._count("accepted")
        self.batcher.add(device_id, [catalog.compact(reading) for reading in readings])

    # --- dispatch side ---
    def _take(self, everything):
        """The batches to send now: the backlog first, then whatever is due (nothing while backing off)."""
        with self._lock:
            if time.monotonic() < self._retry_at and not everything:
                return []
            batches, self.backlog = self.backlog + self.batcher.take_due(everything), []
            return batches

    def _send(self, batches):
        """Hand batches to Odoo, in calls within its limits; what it does not take (Odoo down, network,
        auth) goes back to the front of the backlog. A call Odoo refuses as bad input is resent batch by
        batch, and a batch refused alone is dropped and counted (``refused_by_odoo``): one bad batch
        must not hold back every device's readings forever."""
        calls = odoo_calls(batches)
        taken = 0
        for index, call in enumerate(calls):
            try:
                taken += self._submit_call(call)
            except Exception as exc:  # noqa: BLE001 - Odoo down, network, auth: keep the readings, retry later
                rest = [batch for later in calls[index:] for batch in later]
                with self._lock:
                    # Batches of this call Odoo already took are sent again: the workers store a
                    # reading once (same device, metric and time), so that costs a job, not a duplicate.
                    self.backlog = rest + self.backlog
                    self._retry_at = time.monotonic() + self._retry_delay
                    _logger.warning("Odoo did not take %d batch(es) (%s); retrying in %.0f s",
                                    len(rest), str(exc)[:200], self._retry_delay)
                    self._retry_delay = min(self._retry_delay * 2, 30.0)
                break
        else:
            with self._lock:
                self._retry_delay = 1.0
        if taken:
            with self._lock:
                self.counts["readings_submitted"] += taken
            if self._metrics:
                self._metrics.readings.inc(taken)
        self._set_backlog()
        return taken

    def _submit_call(self, call):
        """One submit_readings call; returns the readings Odoo took."""
        try:
            self.submit(call)
            return sum(len(batch["readings"]) for batch in call)
        except Exception as exc:
            if not is_bad_input(exc):
                raise
            if len(call) == 1:
                self._refused(call[0], exc)
                return 0
        return sum(self._submit_call([batch]) for batch in call)

    def _refused(self, batch, exc):
        self._count(REFUSED)
        if self.counts[REFUSED] <= 10 or self.counts[REFUSED] % 1000 == 0:
            _logger.error("Odoo refused the %d reading(s) of device %r as bad input, dropped (%s; %d so far)",
                          len(batch["readings"]), batch["device_id"][:MAX_DEVICE_ID_LENGTH],
                          str(getattr(exc, "faultString", exc))[:300], self.counts[REFUSED])

    def flush(self, everything=False):
        """Send what is due now and wait for Odoo; returns the number of readings it took."""
        batches = self._take(everything)
        self._set_backlog()
        return self._send(batches) if batches else 0

    def _pump(self, executor):
        """Send due batches without waiting, at most ``max_in_flight`` calls at a time: batches keep
        closing while Odoo records the previous ones."""
        with self._lock:
            if self._in_flight >= self.max_in_flight:
                return
        batches = self._take(False)
        if not batches:
            return
        with self._lock:
            self._in_flight += 1

        def send():
            try:
                self._send(batches)
            finally:
                with self._lock:
                    self._in_flight -= 1

        executor.submit(send)

    def run(self):
        import paho.mqtt.client as mqtt

        url = urlsplit(self.settings.mqtt_url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.settings.mqtt_client_id,
            clean_session=False, protocol=mqtt.MQTTv311,
        )
        if url.username:
            self.client.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            self.client.tls_set()
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=15)
        self.client.connect_async(url.hostname or "127.0.0.1", url.port or (8883 if url.scheme == "mqtts" else 1883),
                                  keepalive=30)
        self.client.loop_start()
        tick = min(0.05, self.settings.iot_batch_window / 2)
        next_stats = time.monotonic() + 60
        executor = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="submit")
        try:
            while not self.stopping.wait(tick):
                self._pump(executor)
                if time.monotonic() >= next_stats:
                    _logger.info("ingestion so far: %s", dict(self.counts))
                    next_stats = time.monotonic() + 60
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            executor.shutdown(wait=True)
            for _attempt in range(5):  # what was gathered goes to Odoo before the bridge exits
                self.flush(everything=True)
                if not self.backlog:
                    break
                time.sleep(1)
            if self.backlog:
                _logger.error("exiting with %d reading(s) Odoo did not take",
                              sum(len(b["readings"]) for b in self.backlog))
            _logger.info("ingestion stopped: %s", dict(self.counts))

    def stop(self, *_args):
        self.stopping.set()

    def _count(self, outcome):
        self.counts[outcome] += 1
        if self._metrics:
            self._metrics.messages.labels(outcome=outcome).inc()

    def _set_connected(self, value):
        if self._metrics:
            self._metrics.connected.set(value)

    def _set_backlog(self):
        if self._metrics:
            self._metrics.backlog.set(self.batcher.pending_readings()
                                      + sum(len(b["readings"]) for b in self.backlog))


class _Metrics:
    def __init__(self, registry):
        from prometheus_client import Counter as PromCounter, Gauge

        self.messages = PromCounter(MESSAGES_METRIC, "MQTT messages received, by outcome", ["outcome"],
                                    registry=registry)
        self.readings = PromCounter(READINGS_METRIC, "Readings handed to Odoo as jobs", registry=registry)
        self.backlog = Gauge(BACKLOG_METRIC, "Readings received but not yet taken by Odoo", registry=registry)
        self.connected = Gauge(CONNECTED_METRIC, "1 while connected to the MQTT broker", registry=registry)


def odoo_submitter(settings):
    from celery_bridge.worker.odoo_client import OdooClient

    client = OdooClient(settings)

    def submit(batches):
        # Each batch's readings travel as one JSON string: Odoo parses one XML-RPC value per batch
        # instead of three per reading.
        return client.execute("smart_dairy.iot.device", "submit_readings", [
            {"device_id": batch["device_id"], "readings": json.dumps(batch["readings"], separators=(",", ":"))}
            for batch in batches])

    return submit


def main(argv=None):
    import argparse

    from prometheus_client import CollectorRegistry, start_http_server

    # No options: settings come from the environment (the docstring lists them); --help says so.
    argparse.ArgumentParser(prog="sdj-iot-ingest", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)

    from celery_bridge.core.config import load_settings, wait_for_api_key

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = wait_for_api_key(load_settings())  # ODOO_API_KEY_FILE: written by Odoo's init step on a first start
    registry = CollectorRegistry()
    if settings.iot_metrics_port:
        start_http_server(settings.iot_metrics_port, addr="0.0.0.0", registry=registry)
    ingestor = Ingestor(settings, odoo_submitter(settings), registry=registry)
    signal.signal(signal.SIGTERM, ingestor.stop)
    signal.signal(signal.SIGINT, ingestor.stop)
    _logger.info("MQTT ingestion: %s topic %s → %s db %s", urlsplit(settings.mqtt_url).hostname,
                 settings.mqtt_topic, settings.odoo_url, settings.odoo_db)
    ingestor.run()


if __name__ == "__main__":
    main()
