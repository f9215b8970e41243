"""A farm's worth of demo data on a running system (scripts/run-system.sh), through its real paths.

    python scripts/demo_data.py [--url http://127.0.0.1:8069 --db smart_dairy --mqtt 127.0.0.1:1883]

Registers milk meters, a bulk tank, collars and a barn sensor over XML-RPC, publishes a day of
readings over MQTT (the tank warming past its band once), lets the ingestion bridge and the workers
store them, runs yesterday's milk aggregation, and adds two payments and a report request. Logs in
as admin (ODOO_CLIENT_PASSWORD, default the fresh database's admin).
"""
import argparse
import json
import os
import time
import xmlrpc.client
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytz

DEVICES = [(f"MM-{n:03d}", f"Parlour stall {n} meter", "milk_meter", "Parlour") for n in range(1, 9)] + [
    ("TANK-1", "Bulk tank 1", "milk_tank", "Tank room"),
    ("COLLAR-0412", "Collar, cow 412", "activity_collar", "Barn A"),
    ("COLLAR-0413", "Collar, cow 413", "activity_collar", "Barn A"),
    ("ENV-BARN-A", "Barn A climate", "environment_sensor", "Barn A"),
]


def wait_until(predicate, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default=os.environ.get("SDJ_DB", "smart_dairy"))
    parser.add_argument("--mqtt", default="127.0.0.1:1883")
    options = parser.parse_args()
    password = os.environ.get("ODOO_CLIENT_PASSWORD", "admin")
    uid = xmlrpc.client.ServerProxy(f"{options.url}/xmlrpc/2/common").authenticate(options.db, "admin", password, {})
    proxy = xmlrpc.client.ServerProxy(f"{options.url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kwargs):
        return proxy.execute_kw(options.db, uid, password, model, method, list(args), kwargs)

    known = {d["device_code"] for d in call("smart_dairy.iot.device", "search_read", [], ["device_code"])}
    call("smart_dairy.iot.device", "create", [
        {"device_code": code, "name": name, "device_type": kind, "location": where,
         "is_critical": kind == "milk_tank"}
        for code, name, kind, where in DEVICES if code not in known])

    host, port = options.mqtt.split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="smart-dairy-demo")
    client.connect(host, int(port))
    client.loop_start()
    dhaka = pytz.timezone("Asia/Dhaka")
    yesterday = datetime.now(dhaka).date() - timedelta(days=1)
    now = datetime.now(timezone.utc)
    published = 0

    def publish(code, payload):
        nonlocal published
        client.publish(f"smartdairy/demo-farm/{code}/readings", json.dumps(payload), qos=1).wait_for_publish(10)
        published += len(payload.get("values", {})) or 1

    for code, _name, kind, _where in DEVICES:
        if kind == "milk_meter":
            for hour, litres in ((5, 11.0), (17, 9.5)):
                at = dhaka.localize(datetime.combine(yesterday, datetime.min.time()).replace(hour=hour))
                stall = int(code[-3:])
                publish(code, {"ts": at.timestamp(), "values": {
                    "milk_yield": litres + stall * 0.4, "milk_flow": 2.1, "conductivity": 5.0 + stall * 0.2,
                    "fat": 4.0}})
            publish(code, {"ts": now.timestamp() - 60, "values": {"milk_flow": 0.0, "battery": 87}})
        elif kind == "milk_tank":
            for minutes, celsius in ((50, 4.1), (30, 5.2), (10, 7.4), (1, 6.8)):  # cooling trouble
                publish(code, {"ts": now.timestamp() - minutes * 60, "values": {"milk_temperature": celsius,
                                                                                  "tank_level": 2400}})
        elif kind == "activity_collar":
            publish(code, {"ts": now.timestamp() - 120, "values": {"activity": 310, "rumination": 38,
                                                                   "body_temperature": 38.6}})
        else:
            publish(code, {"ts": now.timestamp() - 30, "values": {"temperature": 31.5, "humidity": 78,
                                                                  "ammonia": 12}})
    client.loop_stop()
    client.disconnect()
    wait_until(lambda: call("smart_dairy.iot.reading", "search_count", []) >= published, "the readings")
    job_id = call("smart_dairy.job", "dispatch", "smart_dairy.aggregation.aggregate_milk_production",
                  kwargs={"day": yesterday.isoformat()})
    wait_until(lambda: call("smart_dairy.job", "read", [job_id], ["state"])[0]["state"] == "success",
               "the milk aggregation")

    partner = call("res.partner", "create", {"name": "Rahman Sweets", "email": "orders@rahman-sweets.example"})
    for amount, gateway in ((12500.0, "bkash"), (4200.0, "nagad")):
        call("smart_dairy.payment", "create", {"partner_id": partner, "gateway": gateway,
                                               "payer_number": "01711000000", "amount": amount})
    call("smart_dairy.report.request", "create", {"report_type": "milk_production",
                                                  "date_from": yesterday.isoformat(), "date_to": yesterday.isoformat(),
                                                  "file_format": "pdf"})
    print(f"demo data ready: {len(DEVICES)} devices, {published} readings, milk for {yesterday} aggregated")


if __name__ == "__main__":
    main()
