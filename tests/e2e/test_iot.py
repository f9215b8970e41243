"""Farm IoT end to end: MQTT broker → ingestion bridge → Odoo jobs → Celery worker → PostgreSQL → Odoo.

Real Mosquitto (private, persistent), Redis, Odoo HTTP server, Celery worker and PostgreSQL.
"""
import json
import uuid
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
import pytz

from .harness import wait_for
from .test_walking_skeleton import wait_for_state

DHAKA = pytz.timezone("Asia/Dhaka")


class Publisher:
    def __init__(self, broker):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-device-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def send(self, device_code, payload, topic=None, raw=False):
        body = payload if raw else json.dumps(payload)
        info = self.client.publish(topic or f"smartdairy/farm-1/{device_code}/readings", body, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def publisher(mqtt_broker):
    pub = Publisher(mqtt_broker)
    yield pub
    pub.close()


@pytest.fixture
def device(admin):
    created = []

    def make(device_type="milk_meter", **vals):
        code = f"E2E-{uuid.uuid4().hex[:8]}"
        device_id = admin("smart_dairy.iot.device", "create",
                          dict({"name": f"Device {code}", "device_code": code, "device_type": device_type}, **vals))
        created.append(device_id)
        return device_id, code

    yield make
    admin("smart_dairy.iot.device", "unlink", created)


def utc_iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso(seconds_ago=0):
    return utc_iso(datetime.now(timezone.utc) - timedelta(seconds=seconds_ago))


def stored(admin, device_id):
    return admin("smart_dairy.iot.reading", "search_read", [("device_id", "=", device_id)],
                 ["metric", "value", "timestamp"], order="timestamp, metric")


def job_results(admin, device_code):
    """Results of the successful process_sensor_data jobs (all from the bridge: origin iot) of a device."""
    jobs = admin("smart_dairy.job", "search_read", [("task_name", "=", "smart_dairy.iot.process_sensor_data"),
                                                    ("origin", "=", "iot"), ("state", "=", "success")],
                 ["result_json"])
    results = [json.loads(job["result_json"]) for job in jobs]
    return [result for result in results if result["device_id"] == device_code]


def test_mqtt_readings_are_stored_and_the_device_shows_online(admin, ingestor, publisher, device):
    device_id, code = device()
    assert admin("smart_dairy.iot.device", "read", [device_id], ["state"])[0]["state"] == "offline"
    publisher.send(code, {"metric": "milk_yield", "value": 11.5, "ts": now_iso(30)})
    publisher.send(code, [{"metric": "milk_flow", "value": 2.2, "ts": now_iso(20)},
                          {"metric": "conductivity", "value": 5.0, "ts": now_iso(20)}])
    publisher.send(code, {"ts": now_iso(10), "values": {"fat": 4.1, "milk_temperature": 35.0}})
    rows = wait_for(lambda: len(found := stored(admin, device_id)) == 5 and found, timeout=30,
                    what="the five readings to be stored")
    assert sorted((r["metric"], r["value"]) for r in rows) == [
        ("conductivity", 5.0), ("fat", 4.1), ("milk_flow", 2.2), ("milk_temperature", 35.0), ("milk_yield", 11.5)]
    shown = admin("smart_dairy.iot.device", "read", [device_id], ["state", "last_seen", "latest_values_text"])[0]
    assert shown["state"] == "online"
    assert "Fat content: 4.1 %" in shown["latest_values_text"]
    results = wait_for(lambda: job_results(admin, code), what="the jobs' results in Odoo")
    assert sum(result["stored"] for result in results) == 5


def test_a_threshold_breach_raises_exactly_one_alert(admin, ingestor, publisher, device):
    device_id, code = device("milk_tank", is_critical=True)
    publisher.send(code, {"metric": "milk_temperature", "value": 4.0, "ts": now_iso(40)})
    wait_for(lambda: len(stored(admin, device_id)) == 1, what="the in-band reading")
    for count, (value, ago) in enumerate(((8.5, 30), (9.5, 20)), start=2):
        publisher.send(code, {"metric": "milk_temperature", "value": value, "ts": now_iso(ago)})
        wait_for(lambda count=count: len(stored(admin, device_id)) == count, what=f"reading {count}")
    alerts = admin("smart_dairy.iot.alert", "search_read", [("device_id", "=", device_id)],
                   ["state", "severity", "breach_count", "value", "alert_type"])
    assert len(alerts) == 1
    assert alerts[0] | {"id": 0} == {"id": 0, "state": "new", "severity": "critical", "breach_count": 2,
                                     "value": 9.5, "alert_type": "threshold"}


def test_silence_turns_a_device_offline_with_an_alert(odoo, admin, ingestor, publisher, device):
    device_id, code = device("environment_sensor")
    publisher.send(code, {"metric": "humidity", "value": 70, "ts": now_iso()})
    wait_for(lambda: admin("smart_dairy.iot.device", "read", [device_id], ["state"])[0]["state"] == "online",
             what="the sensor to be online")
    # Six minutes of silence, without waiting them: the device was last heard of six minutes ago
    # (last_seen is the system's to set, never written over the API: the test moves it in the database).
    six_minutes_ago = (datetime.now(timezone.utc) - timedelta(minutes=6)).replace(tzinfo=None)
    assert odoo.sql("UPDATE smart_dairy_iot_device SET last_seen = %s WHERE id = %s", (six_minutes_ago, device_id)) == 1
    job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.iot.sync_device_status")
    job = wait_for_state(admin, job_id, ("success", "failure"))
    assert job["state"] == "success", job
    assert device_id in json.loads(job["result_json"])["device_ids"]
    assert admin("smart_dairy.iot.device", "read", [device_id], ["state"])[0]["state"] == "offline"
    alerts = admin("smart_dairy.iot.alert", "search_read", [("device_id", "=", device_id)], ["alert_type", "state"])
    assert alerts == [{"id": alerts[0]["id"], "alert_type": "offline", "state": "new"}]
    # Heard from again: online, and the offline alert closes by itself.
    publisher.send(code, {"metric": "humidity", "value": 71, "ts": now_iso()})
    wait_for(lambda: admin("smart_dairy.iot.alert", "read", [alerts[0]["id"]], ["state"])[0]["state"] == "resolved",
             what="the offline alert to resolve")
    assert admin("smart_dairy.iot.device", "read", [device_id], ["state"])[0]["state"] == "online"


def test_malformed_payloads_are_counted_and_ignored(admin, ingestor, publisher, device):
    device_id, code = device()
    before = {reason: ingestor.metric("smart_dairy_iot_mqtt_messages", outcome=reason)
              for reason in ("not_json", "bad_shape", "empty", "bad_topic")}
    publisher.send(code, b"{not json", raw=True)
    publisher.send(code, b"\xff\xfe\x00", raw=True)
    publisher.send(code, {"readings": "lots"})
    publisher.send(code, [])
    publisher.send(code, {"metric": "milk_yield", "value": 1}, topic="smartdairy/farm-1//readings")
    # Shape-valid but wrong readings reach the worker, which rejects them with reasons.
    publisher.send(code, [{"metric": "milk_yield", "value": 500, "ts": now_iso()},
                          {"metric": "milk_yield", "value": 9.0, "ts": now_iso(5)}])
    wait_for(lambda: len(stored(admin, device_id)) == 1, what="the one good reading")
    expected = {"not_json": 2, "bad_shape": 1, "empty": 1, "bad_topic": 1}
    wait_for(lambda: all(ingestor.metric("smart_dairy_iot_mqtt_messages", outcome=reason) - before[reason] == n
                         for reason, n in expected.items()), what="the malformed messages to be counted")
    assert ingestor.alive()
    wait_for(lambda: sum(r["rejected"].get("out_of_physical_range", 0) for r in job_results(admin, code)) == 1,
             what="the worker to report the out-of-range reading")


def test_readings_of_an_unknown_device_are_rejected_not_stored(admin, ingestor, publisher):
    code = f"GHOST-{uuid.uuid4().hex[:6]}"
    publisher.send(code, {"metric": "milk_yield", "value": 5.0, "ts": now_iso()})
    [result] = wait_for(lambda: job_results(admin, code), what="the ghost device's job")
    assert (result["stored"], result["rejected"]) == (0, {"unknown_device": 1})


def test_daily_milk_aggregation_is_idempotent(admin, ingestor, publisher, device):
    device_id, code = device()
    day = datetime.now(DHAKA).date() - timedelta(days=1)
    milkings = [DHAKA.localize(datetime.combine(day, datetime.min.time()).replace(hour=h)) for h in (5, 17)]
    publisher.send(code, [{"metric": "milk_yield", "value": v, "ts": utc_iso(m)}
                          for v, m in zip((12.25, 10.5), milkings)])
    wait_for(lambda: len(stored(admin, device_id)) == 2, what="the two milkings")

    def aggregate():
        job_id = admin("smart_dairy.job", "dispatch", "smart_dairy.aggregation.aggregate_milk_production",
                       kwargs={"day": day.isoformat()})
        assert wait_for_state(admin, job_id, ("success", "failure"))["state"] == "success"
        return admin("smart_dairy.iot.milk.production", "search_read", [("day", "=", day.isoformat())],
                     ["device_id", "quantity", "reading_count"], order="id")

    first = aggregate()
    second = aggregate()
    assert first == second
    mine = [row for row in first if row["device_id"][0] == device_id]
    assert [(row["quantity"], row["reading_count"]) for row in mine] == [(22.75, 2)]


def test_ingestion_survives_a_broker_restart(admin, ingestor, mqtt_broker, device):
    device_id, code = device()
    mqtt_broker.stop()
    wait_for(lambda: ingestor.metric("smart_dairy_iot_mqtt_connected") == 0.0, what="the bridge to notice")
    mqtt_broker.start()
    publisher = Publisher(mqtt_broker)
    try:
        publisher.send(code, {"metric": "milk_yield", "value": 7.0, "ts": now_iso()})
        wait_for(lambda: len(stored(admin, device_id)) == 1, timeout=45, what="the reading after the restart")
    finally:
        publisher.close()
    assert ingestor.alive()
    assert ingestor.metric("smart_dairy_iot_mqtt_connected") == 1.0
