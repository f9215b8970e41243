"""Farm IoT throughput and latency: MQTT publish → rows committed in PostgreSQL → visible in Odoo.

    scripts/run-bench.sh iot        (or: python bench/iot.py --out bench/RESULTS-iot.md)

Starts its own redis-server, Mosquitto, an Odoo HTTP server on a fresh database, a Celery worker
(prefork, 2 processes) and the MQTT ingestion bridge, registers milk meters, then for each load step
publishes readings at a fixed rate from separate publisher processes (5 metrics per message, QoS 1,
each message stamped with its publish time) and measures from the database:

- sustained rate: rows committed per second during the step (first seconds of warm-up left out);
- publish → committed latency: ``stored_at`` (the worker's clock at insert; its transaction commits
  a few ms later) minus the publish time the reading carries, p50 / p99 over every reading;
- publish → visible over Odoo's XML-RPC: one probe reading a second, polled with search_count.

A benchmark, not a test: nothing here asserts a timing.
"""
import argparse
import multiprocessing
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psutil
import psycopg2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.harness import (  # noqa: E402
    ADMIN, ODOO_PATH, Client, Ingestor, MosquittoServer, OdooServer, RedisServer, Worker, issue_bridge_key,
)

METRICS = {"milk_yield": 12.0, "milk_flow": 2.5, "conductivity": 5.0, "fat": 4.0, "milk_temperature": 35.0}
WARM_UP = 5.0


GROUPS = (("odoo-bin", "Odoo"), ("celery_bridge.services.iot_ingest", "ingestion bridge"), ("celery", "worker"),
          ("mosquitto", "Mosquitto"), ("postgres", "PostgreSQL"), ("redis-server", "Redis"))


def cpu_seconds():
    """CPU seconds used so far per part of the system, counting exited children (recycled pool
    processes, closed PostgreSQL backends) through their parents' reaped-children times."""
    procs = {}
    for proc in psutil.process_iter(["pid", "ppid", "cmdline", "cpu_times"]):
        if proc.info["cpu_times"] is not None:
            procs[proc.info["pid"]] = proc.info
    used = dict.fromkeys([label for _needle, label in GROUPS] + ["publishers"], 0.0)
    for info in procs.values():
        line = " ".join(info["cmdline"] or [])
        label = next((label for needle, label in GROUPS if needle in line), None)
        if label:
            times = info["cpu_times"]
            used[label] += times.user + times.system + times.children_user + times.children_system
    return used


def publish(port, codes, messages_per_second, seconds, start_at, counter, cpu):
    """One publisher process: round-robin over its devices at a fixed message rate."""
    import json

    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    while time.time() < start_at:
        time.sleep(0.001)
    sent = 0
    total = int(messages_per_second * seconds)
    begin = time.time()
    while sent < total:
        due = min(total, int((time.time() - begin) * messages_per_second) + 1)
        while sent < due:
            code = codes[sent % len(codes)]
            body = json.dumps({"ts": time.time(), "values": METRICS})
            client.publish(f"smartdairy/bench/{code}/readings", body, qos=1)
            sent += 1
        time.sleep(0.002)
    deadline = time.time() + 30
    while client.want_write() and time.time() < deadline:  # let the last QoS 1 messages leave
        time.sleep(0.05)
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    with counter.get_lock():
        counter.value += sent * len(METRICS)
        cpu.value += time.process_time()


class IotBench:
    def __init__(self, devices, publishers, seconds, concurrency, window):
        self.devices = devices
        self.publishers = publishers
        self.seconds = seconds
        self.concurrency = concurrency
        self.window = window
        self.workdir = Path(tempfile.mkdtemp(prefix="sdj-bench-iot-"))
        self.rows = []

    def start(self):
        self.redis = RedisServer(self.workdir)
        self.redis.start()
        self.mqtt = MosquittoServer(self.workdir)
        self.mqtt.start()
        self.odoo = OdooServer(self.workdir, self.redis.url)
        print("installing Odoo addons on a fresh database…", flush=True)
        self.odoo.install()
        self.odoo.start()
        self.admin = Client(self.odoo, *ADMIN)
        key = issue_bridge_key(self.admin)
        self.worker = Worker(self.workdir, self.odoo, self.redis.url, key, name="bench", concurrency=self.concurrency)
        self.worker.env["HEARTBEAT_INTERVAL"] = "10"
        self.worker.start()
        self.ingestor = Ingestor(self.workdir, self.odoo, self.mqtt.url, key)
        self.ingestor.env["IOT_BATCH_WINDOW"] = str(self.window)
        self.ingestor.start()
        self.db = psycopg2.connect(dbname=self.odoo.db, host="127.0.0.1", user="odoo")
        self.db.autocommit = True

    def stop(self):
        for part in ("ingestor", "worker", "odoo", "mqtt", "redis"):
            if hasattr(self, part):
                getattr(self, part).stop()

    def sql(self, query, params=()):
        with self.db.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall()

    def register(self, count, tag):
        codes = [f"BENCH-{tag}-{i:04d}" for i in range(count)]
        self.admin("smart_dairy.iot.device", "create", [
            {"name": code, "device_code": code, "device_type": "milk_meter"} for code in codes])
        probe = f"PROBE-{tag}"
        self.admin("smart_dairy.iot.device", "create", {"name": probe, "device_code": probe,
                                                        "device_type": "milk_meter"})
        return codes, probe

    def step(self, readings_per_second):
        codes, probe = self.register(self.devices, len(self.rows))
        messages_per_second = readings_per_second / len(METRICS)
        counter = multiprocessing.Value("l", 0)
        publisher_cpu = multiprocessing.Value("d", 0.0)
        start_at = time.time() + 1.0
        groups = [codes[i::self.publishers] for i in range(self.publishers)]
        procs = [multiprocessing.Process(target=publish, args=(
            self.mqtt.port, group, messages_per_second / self.publishers, self.seconds, start_at, counter, publisher_cpu))
            for group in groups]
        cpu_before, wall_before = cpu_seconds(), time.time()
        for proc in procs:
            proc.start()
        probe_latencies = self.probe(probe, start_at, self.seconds)
        for proc in procs:
            proc.join()
        published = counter.value
        cpu_after, wall = cpu_seconds(), time.time() - wall_before
        cpu_after["publishers"] += publisher_cpu.value
        ids = self.sql("SELECT id FROM smart_dairy_iot_device WHERE device_code = ANY(%s)", [codes])
        ids = [row[0] for row in ids]
        deadline = time.time() + 120
        stored = 0
        while time.time() < deadline:
            stored = self.sql("SELECT count(*) FROM smart_dairy_iot_reading WHERE device_id = ANY(%s)", [ids])[0][0]
            if stored >= published:
                break
            time.sleep(0.5)
        since = datetime.fromtimestamp(start_at, timezone.utc).replace(tzinfo=None)
        while time.time() < deadline:  # the jobs' successes reach Odoo a little after the rows
            total, done = self.sql("""SELECT count(*), count(*) FILTER (WHERE state = 'success')
                                        FROM smart_dairy_job WHERE task_name = 'smart_dairy.iot.process_sensor_data'
                                         AND create_date >= %s""", [since])[0]
            if done >= total:
                break
            time.sleep(0.5)
        begin = datetime.fromtimestamp(start_at + WARM_UP, timezone.utc).replace(tzinfo=None)
        end = datetime.fromtimestamp(start_at + self.seconds, timezone.utc).replace(tzinfo=None)
        per_second = [row[0] for row in self.sql(
            """SELECT count(*) FROM smart_dairy_iot_reading
                WHERE device_id = ANY(%s) AND stored_at >= %s AND stored_at < %s
                GROUP BY date_trunc('second', stored_at)""", [ids, begin, end])]
        p50, p99, worst = self.sql(
            """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag)
                 FROM (SELECT EXTRACT(EPOCH FROM stored_at - timestamp) AS lag
                         FROM smart_dairy_iot_reading WHERE device_id = ANY(%s)) lags""", [ids])[0]
        jobs = self.sql("""SELECT count(*), count(*) FILTER (WHERE state = 'success')
                             FROM smart_dairy_job WHERE task_name = 'smart_dairy.iot.process_sensor_data'
                              AND create_date >= %s""",
                        [datetime.fromtimestamp(start_at, timezone.utc).replace(tzinfo=None)])[0]
        stages = self.sql(
            """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM date_enqueued - create_date)),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY wait_time),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY duration),
                      avg(length(args_json))
                 FROM smart_dairy_job WHERE task_name = 'smart_dairy.iot.process_sensor_data'
                  AND create_date >= %s""",
            [datetime.fromtimestamp(start_at, timezone.utc).replace(tzinfo=None)])[0]
        row = {
            "target": readings_per_second, "published": published, "stored": stored,
            "sustained": statistics.median(per_second) if per_second else 0.0,
            "p50": float(p50 or 0), "p99": float(p99 or 0), "max": float(worst or 0),
            "probe_p50": statistics.median(probe_latencies) if probe_latencies else None,
            "probe_max": max(probe_latencies) if probe_latencies else None,
            "jobs": jobs[0], "jobs_ok": jobs[1],
            "stages": [float(v or 0) for v in stages],
            "cores": {label: (cpu_after[label] - cpu_before[label]) / wall for label in cpu_after},
        }
        print(row, flush=True)
        self.rows.append(row)
        return row

    def probe(self, code, start_at, seconds):
        """Once a second, publish one reading and poll Odoo's XML-RPC until it is visible."""
        import json

        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{uuid.uuid4().hex[:8]}")
        client.connect("127.0.0.1", self.mqtt.port)
        client.loop_start()
        device_id = self.admin("smart_dairy.iot.device", "search", [("device_code", "=", code)])[0]
        latencies = []
        while time.time() < start_at + WARM_UP:
            time.sleep(0.01)
        n = 0
        while time.time() < start_at + seconds:
            n += 1
            sent = time.time()
            client.publish(f"smartdairy/bench/{code}/readings",
                           json.dumps({"metric": "milk_yield", "value": float(n % 50), "ts": sent}), qos=1)
            while time.time() - sent < 30:
                if self.admin("smart_dairy.iot.reading", "search_count", [("device_id", "=", device_id)]) >= n:
                    latencies.append(time.time() - sent)
                    break
                time.sleep(0.05)  # the probe's own load on Odoo stays small
            time.sleep(max(0.0, 1.0 - (time.time() - sent)))
        client.loop_stop()
        client.disconnect()
        return latencies

    def write(self, out):
        versions = {
            "python": platform.python_version(),
            "mosquitto": subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0],
            "postgres": self.sql("SHOW server_version")[0][0],
        }
        lines = [
            "# IoT benchmark results",
            "",
            f"Run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `scripts/run-bench.sh iot`, on "
            f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB. {versions['python']}, "
            f"{versions['mosquitto']}, PostgreSQL {versions['postgres']}, Odoo 18.0 at {ODOO_PATH}.",
            f"{self.devices} milk meters, 5 metrics per message, QoS 1, {self.publishers} publisher processes, "
            f"{self.seconds} s per step; ingestion window {self.window} s; one worker (prefork, {self.concurrency} processes); "
            "Odoo threaded (`workers = 0`); everything on this one machine.",
            "",
            "| target readings/s | published | stored | sustained readings/s (median per second) "
            "| publish → committed p50 | p99 | max | publish → visible over XML-RPC (probe) p50 | max "
            "| jobs (succeeded) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.rows:
            probe = (f"{r['probe_p50'] * 1000:.0f} ms", f"{r['probe_max'] * 1000:.0f} ms") \
                if r["probe_p50"] is not None else ("–", "–")
            lines.append(
                f"| {r['target']:,} | {r['published']:,} | {r['stored']:,} | {r['sustained']:,.0f} "
                f"| {r['p50'] * 1000:.0f} ms | {r['p99'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms "
                f"| {probe[0]} | {probe[1]} | {r['jobs']:,} ({r['jobs_ok']:,}) |")
        lines += ["", "CPU used during each step (cores; 2 = the whole machine):", "",
                  "| target readings/s | " + " | ".join(self.rows[0]["cores"]) + " |",
                  "|---:|" + "---:|" * len(self.rows[0]["cores"])]
        for r in self.rows:
            lines.append(f"| {r['target']:,} | " + " | ".join(f"{v:.2f}" for v in r["cores"].values()) + " |")
        Path(out).write_text("\n".join(lines) + "\n")
        print(f"wrote {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2000,5000,10000,15000", help="readings/s per step")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4, help="the worker's pool processes")
    parser.add_argument("--window", type=float, default=1.0, help="the ingestion bridge's batch window (s)")
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS-iot.md"))
    args = parser.parse_args()
    bench = IotBench(args.devices, args.publishers, args.seconds, args.concurrency, args.window)
    try:
        bench.start()
        for rate in (int(r) for r in args.rates.split(",")):
            bench.step(rate)
        bench.write(args.out)
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
