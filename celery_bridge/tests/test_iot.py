"""The IoT logic both rooms share: reading validation, threshold breaches, MQTT payloads, batching."""
import json
from datetime import datetime, timedelta

import pytest

from celery_bridge.core.config import Settings
from celery_bridge.core import iot_catalog as catalog
from celery_bridge.services import iot_ingest as ingest

NOW = datetime(2026, 11, 21, 6, 0, 0)


def test_validation_keeps_good_readings_and_counts_the_rest_by_reason():
    readings = [
        {"metric": "milk_yield", "value": 14.2, "ts": "2026-11-21T05:59:00Z"},
        {"metric": "milk_yield", "value": 14, "ts": 1795240740},                       # epoch seconds
        {"metric": "humidity", "value": 50, "ts": "2026-11-21T05:59:00Z"},             # not a meter's
        {"metric": "milk_yield", "value": -1, "ts": "2026-11-21T05:59:00Z"},
        {"metric": "milk_yield", "value": float("nan"), "ts": "2026-11-21T05:59:00Z"},
        {"metric": "milk_yield", "value": True, "ts": "2026-11-21T05:59:00Z"},
        {"metric": "milk_yield", "value": 3, "unit": "gal", "ts": "2026-11-21T05:59:00Z"},
        {"metric": "milk_yield", "value": 3, "ts": "2026-11-21T06:05:00+00:00"},       # 5 min ahead
        {"metric": "milk_yield", "value": 3, "ts": "2026-11-21T06:00:30"},             # within clock skew
        {"metric": "milk_yield", "value": 3},
        "12.5",
    ]
    accepted, rejected = catalog.validate_readings(catalog.MILK_METER, readings, now=NOW)
    assert [(r.metric, r.value) for r in accepted] == [("milk_yield", 14.2), ("milk_yield", 14.0), ("milk_yield", 3.0)]
    assert accepted[0].timestamp == datetime(2026, 11, 21, 5, 59) and accepted[0].unit == "L"
    assert dict(rejected) == {
        catalog.BAD_METRIC: 1, catalog.OUT_OF_RANGE: 1, catalog.BAD_VALUE: 3, catalog.FUTURE_TIMESTAMP: 1,
        catalog.BAD_TIMESTAMP: 1, catalog.BAD_SHAPE: 1,
    }


def test_offset_timestamps_are_stored_in_utc():
    assert catalog.parse_timestamp("2026-11-21T12:00:00+06:00") == datetime(2026, 11, 21, 6, 0)


def test_breaches_pick_the_worst_reading_per_rule():
    at = NOW - timedelta(minutes=1)
    readings = [catalog.Reading("milk_temperature", value, at, "°C") for value in (4.0, 7.0, 9.5, 1.0)]
    rules = [(1, "milk_temperature", 2.0, 6.0), (2, "milk_temperature", 0.5, 20.0), (3, "tank_level", 0, 10)]
    worst = catalog.breaches(readings, rules)
    assert set(worst) == {1}
    assert worst[1].value == 9.5  # 3.5 above beats 1.0 below


def test_every_metric_belongs_to_known_device_types():
    types = {code for code, _label in catalog.DEVICE_TYPES}
    for metric in catalog.METRICS.values():
        assert set(metric.device_types) <= types and metric.physical_min < metric.physical_max


@pytest.mark.parametrize("payload, expected", [
    ({"metric": "milk_yield", "value": 1, "ts": 1}, [{"metric": "milk_yield", "value": 1, "ts": 1}]),
    ([{"metric": "a", "value": 1}], [{"metric": "a", "value": 1}]),
    ({"readings": [{"metric": "a", "value": 2}]}, [{"metric": "a", "value": 2}]),
    ({"ts": 5, "values": {"fat": 4.1, "milk_yield": 9}},
     [{"metric": "fat", "value": 4.1, "ts": 5}, {"metric": "milk_yield", "value": 9, "ts": 5}]),
])
def test_payload_shapes(payload, expected):
    device, readings = ingest.parse_message("smartdairy/farm-1/MM-003/readings", json.dumps(payload).encode())
    assert device == "MM-003" and readings == expected


@pytest.mark.parametrize("topic, payload, reason", [
    ("smartdairy/farm-1/MM-003/status", b"{}", ingest.BAD_TOPIC),
    ("other/farm-1/MM-003/readings", b"{}", ingest.BAD_TOPIC),
    ("smartdairy//MM-003/readings", b"{}", ingest.BAD_TOPIC),
    ("smartdairy/f/MM-003/readings", b"{not json", ingest.NOT_JSON),
    ("smartdairy/f/MM-003/readings", b"\xff\xfe", ingest.NOT_JSON),
    ("smartdairy/f/MM-003/readings", b"42", ingest.BAD_SHAPE),
    ("smartdairy/f/MM-003/readings", b'[1, 2]', ingest.BAD_SHAPE),
    ("smartdairy/f/MM-003/readings", b'{"readings": "many"}', ingest.BAD_SHAPE),
    ("smartdairy/f/MM-003/readings", b"[]", ingest.EMPTY),
    ("smartdairy/f/MM-003/readings", b" " * (ingest.MAX_PAYLOAD_BYTES + 1), ingest.TOO_LARGE),
])
def test_malformed_messages_name_their_reason(topic, payload, reason):
    with pytest.raises(ingest.Malformed) as caught:
        ingest.parse_message(topic, payload)
    assert caught.value.reason == reason


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_batches_close_by_age_or_size_per_device():
    clock = Clock()
    batcher = ingest.Batcher(window=0.5, max_size=3, clock=clock)
    batcher.add("A", [{"n": 1}])
    clock.now += 0.2
    batcher.add("B", [{"n": 2}])
    batcher.add("C", [{"n": 3}, {"n": 4}, {"n": 5}, {"n": 6}])  # over size: closed at once
    assert [b["device_id"] for b in batcher.take_due()] == ["C"]
    clock.now += 0.3  # A is 0.5 s old, B 0.3 s
    batcher.add("A", [{"n": 7}])
    due = batcher.take_due()
    assert due == [{"device_id": "A", "readings": [{"n": 1}, {"n": 7}]}]
    assert batcher.pending_readings() == 1
    assert [b["device_id"] for b in batcher.take_due(everything=True)] == ["B"]
    assert batcher.pending_readings() == 0


class Message:
    def __init__(self, topic, payload):
        self.topic, self.payload = topic, payload


def test_ingestor_keeps_what_odoo_refused_and_sends_it_later_in_order():
    sent, failures = [], [RuntimeError("Odoo down")]

    def submit(batches):
        if failures:
            raise failures.pop()
        sent.append(batches)
        return len(batches)

    ingestor = ingest.Ingestor(Settings(iot_batch_window=0.0), submit)
    ingestor.on_message(None, None, Message("smartdairy/f/A/readings", b'{"metric": "fat", "value": 4, "ts": 1}'))
    ingestor.on_message(None, None, Message("smartdairy/f/A/readings", b"garbage"))
    assert ingestor.flush() == 0 and len(ingestor.backlog) == 1
    ingestor.on_message(None, None, Message("smartdairy/f/B/readings", b'{"metric": "fat", "value": 5, "ts": 1}'))
    assert ingestor.flush(everything=True) == 2
    assert [batch["device_id"] for batch in sent[0]] == ["A", "B"]
    assert ingestor.counts == {"accepted": 2, ingest.NOT_JSON: 1, "readings_submitted": 2}
