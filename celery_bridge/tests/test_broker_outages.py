"""Broker faults from the bridge's side, with a real Redis and real kombu: items on a queue that are not
messages, a broker that is away when Odoo publishes, the worker's connectivity and health check."""
import os
import socket
import time

import pytest
import redis as redis_lib
from kombu import Connection, Consumer, Exchange, Queue
from kombu.transport import redis as kombu_redis
from prometheus_client import CollectorRegistry, start_http_server

from celery_bridge.worker import healthcheck, metrics
from celery_bridge.broker import producer
from celery_bridge.broker.app_factory import POISON_SAFE_TRANSPORT, build_config, poison_safe_transport
from celery_bridge.core.config import load_settings
from celery_bridge.broker.transport import PoisonSafeTransport, poison_list

REDIS_URL = os.environ.get("SDJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POISON = [b"garbage", b"", b"42", b"[1, 2]", b'{"body": "x"}', b"\xff\xfe not utf-8",
          b'{"body": "!!not base64!!", "content-encoding": "utf-8", "content-type": "application/json", '
          b'"headers": {}, "properties": {"body_encoding": "base64", "delivery_tag": "t1", '
          b'"delivery_info": {"exchange": "", "routing_key": "x"}}}']


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poison_count(queue_label):
    return metrics.POISON_MESSAGES.labels(queue_label)._value.get()


def _queue(name):
    return Queue(name, Exchange(name), routing_key=name)


def _publish_good_message(connection, queue):
    connection.Producer().publish({"hello": "world"}, exchange=queue.exchange, routing_key=queue.routing_key,
                                  declare=[queue], serializer="json")


@pytest.mark.parametrize("read", ["event loop", "basic_get"])
def test_items_that_are_not_messages_are_moved_aside_and_the_next_message_is_delivered(redis_db, read):
    name = redis_db.test_prefix + "q"
    queue = _queue(name)
    before = poison_count("other")
    with Connection(REDIS_URL, transport=PoisonSafeTransport) as connection:
        queue(connection.default_channel).declare()
        for item in POISON:
            redis_db.lpush(name, item)
        _publish_good_message(connection, queue)
        received = []
        if read == "event loop":  # BRPOP, as the worker's consumer reads
            with Consumer(connection, [queue], callbacks=[lambda body, message: (received.append(body),
                                                                                 message.ack())]):
                deadline = time.monotonic() + 10
                while not received and time.monotonic() < deadline:
                    try:
                        connection.drain_events(timeout=1)
                    except socket.timeout:
                        pass
        else:
            message = queue(connection.default_channel).get()
            received.append(message.payload)
            message.ack()
    assert received == [{"hello": "world"}]
    # Every item is kept aside, unchanged, oldest last, and counted.
    assert redis_db.lrange(poison_list(name), 0, -1) == list(reversed(POISON))
    assert redis_db.llen(name) == 0
    assert poison_count("other") - before == len(POISON)


def test_without_the_poison_safe_channel_a_garbage_item_breaks_the_consumer(redis_db):
    """Why the transport exists: kombu's own channel lets the parse error out (in a worker, its end)."""
    name = redis_db.test_prefix + "raw"
    queue = _queue(name)
    with Connection(REDIS_URL, transport=kombu_redis.Transport) as connection:
        queue(connection.default_channel).declare()
        redis_db.lpush(name, b"garbage")
        with Consumer(connection, [queue], callbacks=[lambda body, message: message.ack()]):
            with pytest.raises(ValueError):
                for _ in range(5):
                    try:
                        connection.drain_events(timeout=1)
                    except socket.timeout:
                        pass


def test_the_app_uses_the_poison_safe_transport_on_redis_and_retries_for_ever():
    config = build_config(load_settings({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, section={}))
    assert config["broker_transport"] == POISON_SAFE_TRANSPORT
    assert config["broker_connection_max_retries"] is None  # a limit made the worker exit
    assert poison_safe_transport("rediss://h:6380/0") == POISON_SAFE_TRANSPORT
    assert poison_safe_transport("sentinel://h:26379") is None  # kombu's own transport for other schemes
    assert poison_safe_transport("amqp://guest@h//") is None


def _silent_listener():
    """A broker that accepts connections and never answers (a hung host)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    return listener


@pytest.mark.parametrize("broker", ["refusing", "silent"])
def test_a_publish_waits_for_an_absent_broker_no_longer_than_the_publish_timeout(broker):
    listener = _silent_listener() if broker == "silent" else None
    port = listener.getsockname()[1] if listener else free_port()
    settings = load_settings({"CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0", "PUBLISH_TIMEOUT": "1"},
                             section={})
    message = producer.Outgoing(uuid="u-1", task_name="smart_dairy.health.ping", queue="celery", priority=5,
                                args=[], kwargs={}, attempt=1)
    try:
        for _ in range(2):  # the second call starts from the app the first one dropped
            started = time.monotonic()
            assert producer.publish(settings, [message]) == []
            # The documented bound (README, PUBLISH_TIMEOUT), with a margin for a loaded machine.
            assert time.monotonic() - started < settings.publish_timeout + 1.0
        started = time.monotonic()
        assert producer.revoke(settings, ["u-1"]) is False
        assert time.monotonic() - started < settings.publish_timeout + 1.0
    finally:
        if listener:
            listener.close()


def test_a_publish_after_its_deadline_sends_nothing_and_leaves_the_jobs_pending(redis_db):
    settings = load_settings({"CELERY_BROKER_URL": REDIS_URL}, section={})
    name = redis_db.test_prefix + "late"
    message = producer.Outgoing(uuid=name, task_name="smart_dairy.health.ping", queue=name, priority=0,
                                args=[], kwargs={}, attempt=1)
    assert producer.publish(settings, [message], deadline=time.monotonic() - 1) == []
    assert producer.publish(settings, [message], deadline=time.monotonic() + 0.5) == [name]  # time left: sent
    assert redis_db.llen(name) == 1


def test_connectivity_counts_reconnections_and_times_the_outage():
    connectivity = metrics.BrokerConnectivity()
    assert connectivity.up() is False, "the first connection is not a reconnection"
    assert connectivity.outage_seconds() == 0
    assert connectivity.down() is True
    assert connectivity.down() is False, "still down: one loss, not two"
    assert connectivity.outage_seconds(now=connectivity.changed_at + 7) == 7
    assert connectivity.up() is True
    assert connectivity.reconnects == 1


def _serve(collector):
    registry = CollectorRegistry()
    registry.register(collector)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server, f"http://127.0.0.1:{port}/metrics"


def test_the_health_check_says_degraded_while_the_broker_is_away():
    connectivity = metrics.BrokerConnectivity()
    server, url = _serve(metrics.ConnectivityCollector(connectivity))
    try:
        assert healthcheck.check(url)[0] == healthcheck.DEGRADED, "not connected yet"
        connectivity.up()
        assert healthcheck.check(url) == (healthcheck.HEALTHY, "connected to the broker")
        assert healthcheck.main(["--url", url]) == 0
        connectivity.down()
        status, explanation = healthcheck.check(url)
        assert status == healthcheck.DEGRADED and "keeps retrying" in explanation
        assert healthcheck.main(["--url", url]) == 1
        assert "celery_broker_reconnects_total 0.0" in urlopen_text(url)
    finally:
        server.shutdown()
    assert healthcheck.check(url)[0] == healthcheck.DOWN


def urlopen_text(url):
    from urllib.request import urlopen

    with urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_queue_metrics_skip_an_absent_redis_without_failing_the_scrape():
    absent = redis_lib.Redis(port=free_port(), socket_connect_timeout=1)
    assert list(metrics.BrokerCollector(absent, queues=["celery"]).collect()) == []


@pytest.mark.parametrize("headers, refused", [
    ({"task": "t", "id": "1"}, False),
    ({"task": "t", "id": "1", "timelimit": [30, 25]}, False),
    ({"task": "t", "id": "1", "timelimit": [None, 5.5]}, False),
    ({"task": "t", "id": "1", "timelimit": "bad"}, True),
    ({"task": "t", "id": "1", "timelimit": [1]}, True),
    ({"task": "t", "id": "1", "timelimit": [1, "x"]}, True),
    ({"task": "t", "id": "1", "timelimit": [-1, None]}, True),
])
def test_time_limits_celery_would_choke_on_are_refused_before_it(headers, refused):
    from types import SimpleNamespace

    from celery_bridge.worker.consumer import header_problem

    assert bool(header_problem(SimpleNamespace(headers=headers))) is refused
