"""The ingestion bridge keeps within submit_readings' limits and is not jammed by a batch Odoo refuses."""
import xmlrpc.client

from celery_bridge.core import limits
from celery_bridge.core.config import Settings
from celery_bridge.services import iot_ingest as ingest
from celery_bridge.core.schemas.iot import MAX_DEVICE_ID_LENGTH

import pytest


def batch(device_id, count):
    return {"device_id": device_id, "readings": [["milk_yield", n, n] for n in range(count)]}


def test_calls_stay_within_the_batch_and_reading_limits_in_order():
    batches = [batch(f"D{n}", 3) for n in range(7)] + [batch("BIG", 11)]
    calls = ingest.odoo_calls(batches, max_batches=3, max_readings=10)
    assert all(len(call) <= 3 and sum(len(b["readings"]) for b in call) <= 10 for call in calls)
    flat = [(b["device_id"], reading) for call in calls for b in call for reading in b["readings"]]
    assert flat == [(b["device_id"], reading) for b in batches for reading in b["readings"]]
    assert [len(b["readings"]) for b in calls[-1]] == [1] and calls[-2] == [batch("BIG", 10)]


def test_a_backlog_bigger_than_one_call_is_split_with_the_real_limits():
    small = [batch(f"D{n}", 10) for n in range(limits.MAX_READING_BATCHES_PER_CALL + 1)]
    assert [len(call) for call in ingest.odoo_calls(small)] == [limits.MAX_READING_BATCHES_PER_CALL, 1]
    large = [batch(f"D{n}", 30) for n in range(limits.MAX_READING_BATCHES_PER_CALL + 1)]
    per_call = limits.MAX_READINGS_PER_CALL // 30
    assert [len(call) for call in ingest.odoo_calls(large)] == [per_call, len(large) - per_call]


def test_device_ids_odoo_would_refuse_are_malformed_topics():
    with pytest.raises(ingest.Malformed) as caught:
        ingest.parse_message(f"smartdairy/f/{'D' * (MAX_DEVICE_ID_LENGTH + 1)}/readings", b'{"metric": "fat"}')
    assert caught.value.reason == ingest.BAD_TOPIC


class FakeOdoo:
    """submit_readings as Odoo answers it: refuses a call holding a bad device id (fault code 2)."""

    def __init__(self):
        self.taken, self.calls = [], 0

    def __call__(self, batches):
        self.calls += 1
        if any(b["device_id"] == "BAD" for b in batches):
            raise xmlrpc.client.Fault(ingest.ODOO_BAD_INPUT, "A device_id has 1 to 64 characters")
        self.taken.extend(batches)
        return len(batches)


def test_a_batch_refused_as_bad_input_is_dropped_the_others_go_through():
    odoo = FakeOdoo()
    ingestor = ingest.Ingestor(Settings(iot_batch_window=0.0), odoo)
    ingestor.backlog = [batch("A", 2), batch("BAD", 3), batch("B", 1)]
    assert ingestor.flush(everything=True) == 3
    assert [b["device_id"] for b in odoo.taken] == ["A", "B"]
    assert ingestor.backlog == [] and ingestor.counts[ingest.REFUSED] == 1
    assert ingestor.counts["readings_submitted"] == 3


def test_odoo_down_keeps_every_batch_not_taken():
    def down(batches):
        raise ConnectionRefusedError("Odoo down")

    ingestor = ingest.Ingestor(Settings(iot_batch_window=0.0), down)
    ingestor.backlog = [batch("A", 2), batch("B", 1)]
    assert ingestor.flush(everything=True) == 0
    assert [b["device_id"] for b in ingestor.backlog] == ["A", "B"]
    assert ingestor.counts[ingest.REFUSED] == 0
