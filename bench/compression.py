"""Message compression (B-009 §8.1) on a large job, with and without gzip: the bytes a message takes in
Redis, the cost of publishing from Odoo, and the round trip through a real worker.

    scripts/run-bench.sh compression        (or: python bench/compression.py --out bench/RESULTS-compression.md)

Starts its own redis-server, an SMTP server (tests/fakes), an Odoo HTTP server on a fresh database and a
Celery worker (prefork, 2 processes). The job is ``smart_dairy.email.send_email`` with a ~200 kB HTML body:
a milk report table, as repetitive as real reports are; for the bytes also the same size of random text,
which no compression helps. The task type's compression is switched over XML-RPC between runs.

- bytes per message: what one published message takes in Redis (the list item, and Redis's own
  MEMORY USAGE of the list holding it), on a queue no worker serves;
- publish: N jobs dispatched in one transaction from Odoo code (one dispatch_many()) until all are on
  the broker — Odoo's side of the cost, compression included;
- round trip: N jobs dispatched, run by the worker (decompressed, signature checked, mailed to the
  local SMTP server) and written back as success in Odoo.

A benchmark, not a test: nothing here asserts a timing.
"""
import argparse
import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import redis as redis_lib

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from celery_bridge.worker.metrics import priority_lists  # noqa: E402
from tests.e2e.harness import ADMIN, ODOO_PATH, Client, OdooServer, RedisServer, Worker, issue_bridge_key  # noqa: E402
from tests.fakes.smtp_server import SmtpCapture  # noqa: E402

ODOO_SIDE = Path(__file__).with_name("odoo_side.py")
TASK = "smart_dairy.email.send_email"
PROBE = "celery:bench-probe"  # served by no worker: what Odoo publishes there waits to be measured
MODES = ("none", "gzip")
PAYLOAD_BYTES = 200_000


def milk_report_html(size=PAYLOAD_BYTES):
    rows, n = [], 0
    while sum(map(len, rows)) < size:
        rows.append(f"<tr><td>Cow {n:04d}</td><td>Shed {n % 12}</td><td>{(n * 37) % 41}.{n % 10} L</td>"
                    f"<td>{3 + n % 3}.{n % 7} %</td><td>2026-11-{1 + n % 28:02d}</td></tr>")
        n += 1
    return "<table><tr><th>Cow</th><th>Shed</th><th>Milk</th><th>Fat</th><th>Day</th></tr>" + "".join(rows) + "</table>"


def random_text(size=PAYLOAD_BYTES):
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()[:size]


class CompressionBench:
    def __init__(self, repeat, sizes):
        self.repeat = repeat
        self.sizes = sizes
        self.workdir = Path(tempfile.mkdtemp(prefix="sdj-bench-compression-"))
        self.rows = []
        self.medians = {}
        self.payloads = {}
        for kind, body in (("report", milk_report_html()), ("random", random_text())):
            kwargs = {"to": "manager@farm.example", "subject": "Daily milk report", "body_html": body}
            path = self.workdir / f"kwargs-{kind}.json"
            path.write_text(json.dumps(kwargs))
            self.payloads[kind] = (path, len(json.dumps(kwargs)))

    # ------------------------------------------------------------------ set-up

    def start(self):
        self.redis_server = RedisServer(self.workdir)
        self.redis_server.start()
        self.redis = redis_lib.Redis.from_url(self.redis_server.url + "/0")
        self.smtp = SmtpCapture()
        self.smtp.start()
        self.odoo = OdooServer(self.workdir, self.redis_server.url)
        print("installing Odoo addons on a fresh database…", flush=True)
        self.odoo.install()
        self.odoo.start()
        self.admin = Client(self.odoo, *ADMIN)
        self.worker = Worker(self.workdir, self.odoo, self.redis_server.url, issue_bridge_key(self.admin),
                             name="bench-compression")
        self.worker.env.update(SMTP_HOST=self.smtp.host, SMTP_PORT=str(self.smtp.port), HEARTBEAT_INTERVAL="10")
        self.worker.start()
        self.admin("smart_dairy.job.queue", "create", {"name": PROBE, "description": "bench: served by no worker"})
        self.task_id = self.admin("smart_dairy.job.task", "search", [("name", "=", TASK)])[0]
        self.admin("smart_dairy.job.task", "write", [self.task_id], {"rate_limit": ""})  # 100/m in production

    def stop(self):
        for part in (self.worker, self.odoo, self.smtp, self.redis_server):
            try:
                part.stop()
            except Exception as exc:  # noqa: BLE001 - tear down what can be
                print("stopping:", exc)

    def odoo_side(self, *args, timeout=1800):
        return json.loads(self.odoo.run_odoo_python(ODOO_SIDE, *map(str, args), timeout=timeout))

    def use(self, mode):
        self.admin("smart_dairy.job.task", "write", [self.task_id], {"compression": mode})

    def record(self, scenario, unit, samples, key=None):
        samples = sorted(samples)
        median = statistics.median(samples)
        if key:
            self.medians[key] = median
        self.rows.append((scenario, unit, samples[0], median, samples[-1]))
        print(f"{scenario}: {median:,.4g} {unit} (min {samples[0]:,.4g}, max {samples[-1]:,.4g})", flush=True)
        return median

    def probe_items(self):
        return [(name, item) for name in priority_lists(PROBE) for item in self.redis.lrange(name, 0, -1)]

    def purge_probe(self):
        self.redis.delete(*priority_lists(PROBE))

    def wait_on_probe(self, count, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(self.redis.llen(name) for name in priority_lists(PROBE)) >= count:
                return
            time.sleep(0.05)
        raise TimeoutError(f"fewer than {count} messages reached {PROBE}")

    # ------------------------------------------------------------------ scenarios

    def bytes_per_message(self, mode, kind):
        path, argument_bytes = self.payloads[kind]
        self.purge_probe()
        self.odoo_side("dispatch_payload", 1, TASK, path, PROBE)
        self.wait_on_probe(1)
        [(name, item)] = self.probe_items()
        in_memory = self.redis.memory_usage(name)
        self.purge_probe()
        label = "milk report HTML" if kind == "report" else "random text"
        self.record(f"bytes in Redis per message, {argument_bytes / 1000:.0f} kB of arguments ({label}), "
                    f"compression {mode}: the list item", "bytes", [len(item)], key=f"item_{kind}_{mode}")
        self.record(f"… and Redis MEMORY USAGE of the list holding it ({label}, {mode})", "bytes", [in_memory],
                    key=f"memory_{kind}_{mode}")

    def codec(self):
        """What gzip costs per message, alone: kombu compressing a job's body (Odoo's side) and
        decompressing it (the worker's), in this process."""
        from kombu import compression

        path, argument_bytes = self.payloads["report"]
        body = json.dumps([[], json.loads(path.read_text()), {}]).encode()
        packed, spent = None, {"compress": [], "decompress": []}
        for _ in range(max(20, self.repeat)):
            started = time.perf_counter()
            packed, _content_type = compression.compress(body, "gzip")
            spent["compress"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            compression.decompress(packed, "application/x-gzip")
            spent["decompress"].append((time.perf_counter() - started) * 1000)
        for step, samples in spent.items():
            self.record(f"gzip {step} of one job's body ({len(body) / 1000:.0f} kB → {len(packed) / 1000:.0f} kB), "
                        f"kombu, in process", "ms", samples, key=f"codec_{step}")

    def publish_once(self):
        """Seconds to publish ``publish`` large jobs from Odoo code until all are on the broker."""
        n = self.sizes["publish"]
        path, _argument_bytes = self.payloads["report"]
        self.purge_probe()
        seconds = self.odoo_side("dispatch_payload", n, TASK, path, PROBE)["seconds"]
        self.wait_on_probe(n)
        self.purge_probe()
        return n / seconds

    def round_trip_once(self, mode):
        n = self.sizes["round_trip"]
        path, _argument_bytes = self.payloads["report"]
        result = self.odoo_side("round_trip_payload", n, TASK, path)
        if result["succeeded"] != n:
            raise AssertionError(f"only {result['succeeded']} of {n} jobs succeeded (compression {mode})")
        with self.smtp._lock:  # noqa: SLF001 - keep the capture from holding every report in memory
            self.smtp.messages.clear()
            self.smtp.envelopes.clear()
        return n / result["seconds"]

    def timings(self):
        """Publish and round trip, the modes taking turns in every repeat (so that a busy moment of the
        machine weighs on both alike)."""
        argument_bytes = self.payloads["report"][1] / 1000
        rates = {(what, mode): [] for what in ("publish", "round_trip") for mode in MODES}
        for _ in range(self.repeat):
            for mode in MODES:
                self.use(mode)
                rates["publish", mode].append(self.publish_once())
                rates["round_trip", mode].append(self.round_trip_once(mode))
        for mode in MODES:
            self.record(f"publish {self.sizes['publish']} jobs of {argument_bytes:.0f} kB from Odoo code (one "
                        f"dispatch_many(), one transaction) until on the broker, compression {mode}", "jobs/s",
                        rates["publish", mode], key=f"publish_{mode}")
        for mode in MODES:
            self.record(f"round trip: {self.sizes['round_trip']} jobs of {argument_bytes:.0f} kB dispatched → run by "
                        f"the worker (mailed over SMTP) → success in Odoo, compression {mode}", "jobs/s",
                        rates["round_trip", mode], key=f"round_trip_{mode}")

    # ------------------------------------------------------------------ report

    def write(self, out, extra):
        versions = {
            "Python": platform.python_version(),
            "Celery": __import__("celery").__version__,
            "kombu": __import__("kombu").__version__,
            "redis-server": subprocess.run(["redis-server", "--version"], capture_output=True,
                                           text=True).stdout.split()[2],
            "Odoo": "18.0 at " + str(ODOO_PATH),
        }
        lines = [
            "# Message compression benchmark",
            "",
            f"Run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `scripts/run-bench.sh compression` "
            f"(`bench/compression.py --repeat {self.repeat}`), on {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}.",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
            "One Odoo HTTP server (threaded), one Celery worker (prefork, 2 processes), a private redis-server, "
            "a local SMTP server. Timings are min / median / max of the repeats; sizes are one message.",
            "",
            "| scenario | unit | min | median | max |",
            "|---|---|---:|---:|---:|",
        ]
        for scenario, unit, low, mid, high in self.rows:
            lines.append(f"| {scenario} | {unit} | {low:,.1f} | {mid:,.1f} | {high:,.1f} |")
        lines += ["", *extra, ""]
        Path(out).write_text("\n".join(lines))
        print("written", out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS-compression.md"))
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench itself")
    options = parser.parse_args()
    sizes = dict(publish=200, round_trip=100)
    if options.quick:
        sizes = {key: max(5, value // 20) for key, value in sizes.items()}
    bench = CompressionBench(options.repeat, sizes)
    try:
        bench.start()
        bench.codec()
        for mode in MODES:
            bench.use(mode)
            bench.bytes_per_message(mode, "report")
            bench.bytes_per_message(mode, "random")
        bench.timings()
        m = bench.medians
        extra = [
            "## In short",
            "",
            f"- A 200 kB milk report takes {m['item_report_none']:,.0f} bytes in Redis uncompressed, "
            f"{m['item_report_gzip']:,.0f} with gzip ({m['item_report_none'] / m['item_report_gzip']:.1f}× less); "
            f"random text of the same size: {m['item_random_none']:,.0f} → {m['item_random_gzip']:,.0f} bytes "
            f"({m['item_random_none'] / m['item_random_gzip']:.2f}×: all gzip finds there is the slack of its base64 alphabet).",
            f"- Publishing from Odoo: {m['publish_none']:,.1f} jobs/s uncompressed, {m['publish_gzip']:,.1f} with gzip "
            f"({m['publish_gzip'] / m['publish_none']:.2f}×).",
            f"- Round trip through the worker: {m['round_trip_none']:,.1f} jobs/s uncompressed, "
            f"{m['round_trip_gzip']:,.1f} with gzip ({m['round_trip_gzip'] / m['round_trip_none']:.2f}×).",
            f"- gzip itself: {m['codec_compress']:.1f} ms to compress a job's body, {m['codec_decompress']:.1f} ms "
            "to decompress it.",
        ]
        bench.write(options.out, extra)
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
