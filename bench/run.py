"""What a job costs, side by side with raw Celery and OCA queue_job, on this machine, in one run.

    scripts/run-bench.sh            (or: python bench/run.py --repeat 3 --out bench/RESULTS.md)

Starts its own redis-server, an Odoo HTTP server on a fresh database and a Celery worker (prefork,
2 processes), runs every scenario ``--repeat`` times and writes min / median / max to a Markdown
table. Benchmarks, not tests: nothing here asserts a timing.
"""
import argparse
import concurrent.futures
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from datetime import datetime, timezone
from pathlib import Path

import psutil
from celery.result import ResultSet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from celery_bridge.broker.app_factory import make_app  # noqa: E402
from celery_bridge.core.config import load_settings  # noqa: E402
from celery_bridge.worker.odoo_client import OdooClient, Reporter  # noqa: E402
from tests.e2e.harness import ADMIN, ODOO_PATH, Client, OdooServer, RedisServer, Worker, issue_bridge_key  # noqa: E402

ODOO_SIDE = Path(__file__).with_name("odoo_side.py")
GOALS = {
    "round_trip": ("≥ 500 jobs/s and ≥ raw Celery / 2", None),
    "latency_p50": ("≤ 25 ms", 0.025),
    "latency_p99": ("≤ 50 ms", 0.050),
    "list_1m": ("< 200 ms", 0.200),
}


class Bench:
    def __init__(self, repeat, sizes):
        self.repeat = repeat
        self.sizes = sizes
        self.workdir = Path(tempfile.mkdtemp(prefix="sdj-bench-"))
        self.rows = []
        self.medians = {}

    # ------------------------------------------------------------------ set-up

    def start(self):
        self.redis = RedisServer(self.workdir)
        self.redis.start()
        self.odoo = OdooServer(self.workdir, self.redis.url)
        print("installing Odoo addons on a fresh database…", flush=True)
        self.odoo.install()
        self.odoo.start()
        self.admin = Client(self.odoo, *ADMIN)
        self.bridge_key = issue_bridge_key(self.admin)
        self.worker = Worker(self.workdir, self.odoo, self.redis.url, self.bridge_key, name="bench")
        self.worker.env["HEARTBEAT_INTERVAL"] = "10"
        self.worker.start()

    def stop(self):
        for part in (self.worker, self.odoo, self.redis):
            try:
                part.stop()
            except Exception as exc:  # noqa: BLE001 - tear down what can be
                print("stopping:", exc)

    def odoo_side(self, *args, timeout=1800):
        return json.loads(self.odoo.run_odoo_python(ODOO_SIDE, *map(str, args), timeout=timeout))

    def record(self, scenario, unit, samples, goal="", key=None):
        samples = sorted(samples)
        if key:
            self.medians[key] = statistics.median(samples)
        self.rows.append((scenario, unit, samples[0], statistics.median(samples), samples[-1], goal))
        print(f"{scenario}: {statistics.median(samples):.4g} {unit} (min {samples[0]:.4g}, max {samples[-1]:.4g})",
              flush=True)
        return statistics.median(samples)

    def purge(self):
        app = make_app(load_settings({"CELERY_BROKER_URL": self.redis.url + "/0"}, section={}), current=False)
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("celery")  # every priority list of it

    # ------------------------------------------------------------------ scenarios

    def dispatch_in_odoo(self, mode):
        n = self.sizes["dispatch"]
        self.worker.stop()
        rates = []
        for _ in range(self.repeat):
            result = self.odoo_side("dispatch", n, mode)
            rates.append(n / result["seconds"])
            self.purge()
        self.worker.start()
        how = "one dispatch() per job" if mode == "loop" else "one dispatch_many()"
        return self.record(f"dispatch {n} jobs from Odoo code in one transaction ({how}), until on the broker",
                           "jobs/s", rates)

    def dispatch_over_xmlrpc(self, clients):
        n = self.sizes["xmlrpc"]
        self.worker.stop()
        rates = []
        for _ in range(self.repeat):
            def one_client(count):
                proxy = xmlrpc.client.ServerProxy(f"{self.odoo.url}/xmlrpc/2/object", allow_none=True)
                for _ in range(count):
                    proxy.execute_kw(self.odoo.db, self.admin.uid, ADMIN[1], "smart_dairy.job", "dispatch",
                                     ["smart_dairy.health.ping"], {})
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(one_client, [n // clients] * clients))
            rates.append((n // clients * clients) / (time.perf_counter() - started))
            self.purge()
        self.worker.start()
        return self.record(f"dispatch over XML-RPC, {clients} concurrent client(s), {n} jobs", "jobs/s", rates)

    def round_trip(self, mode):
        n = self.sizes["round_trip"]
        rates = []
        for _ in range(self.repeat):
            rates.append(n / self.odoo_side("round_trip", n, mode)["seconds"])
        how = "dispatch() per job" if mode == "loop" else "dispatch_many()"
        return self.record(f"round trip: {n} trivial jobs ({how}), dispatch → success written back in Odoo",
                           "jobs/s", rates, GOALS["round_trip"][0], key=f"round_trip_{mode}")

    def latency(self):
        samples = self.odoo_side("latency", self.sizes["latency"])["samples"]
        samples.sort()

        def pct(p):
            return samples[min(len(samples) - 1, int(round(p / 100 * (len(samples) - 1))))] * 1000
        for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
            self.medians[f"latency_{name}"] = pct(p) / 1000
            goal = {"p50": GOALS["latency_p50"][0], "p99": GOALS["latency_p99"][0]}.get(name, "")
            self.rows.append((f"single-job latency {name}, dispatch-commit → success visible in Odoo "
                              f"({len(samples)} jobs, idle workers)", "ms", pct(p), pct(p), pct(p), goal))
            print(f"latency {name}: {pct(p):.1f} ms", flush=True)

    def raw_celery(self):
        n = self.sizes["round_trip"]
        app = make_app(load_settings({"CELERY_BROKER_URL": self.redis.url + "/0",
                                      "CELERY_RESULT_BACKEND": self.redis.url + "/1"}, section={}), current=False)
        enqueue, trip = [], []
        for _ in range(self.repeat):
            self.worker.stop()
            started = time.perf_counter()
            with app.producer_or_acquire() as producer:
                results = [app.send_task("smart_dairy.health.ping", queue="celery", producer=producer)
                           for _ in range(n)]
            enqueue.append(n / (time.perf_counter() - started))
            self.worker.start()
            started = time.perf_counter()
            ResultSet(results).join_native(timeout=600)
            trip.append(n / (time.perf_counter() - started))
        self.record(f"raw Celery: enqueue {n} tasks (same broker)", "tasks/s", enqueue)
        return self.record(f"raw Celery: {n} trivial tasks drained by the same worker", "tasks/s", trip)

    def queue_job(self):
        n = self.sizes["queue_job"]
        enqueue, drain = [], []
        for _ in range(self.repeat):
            result = self.odoo_side("queue_job_round_trip", n)
            enqueue.append(n / result["enqueue_seconds"])
            drain.append(n / result["drain_seconds"])
        self.record(f"OCA queue_job alone: enqueue {n} jobs in one transaction", "jobs/s", enqueue)
        return self.record(f"OCA queue_job alone: {n} trivial jobs drained (jobs run inside Odoo, root:2)",
                           "jobs/s", drain)

    def write_back(self):
        n = self.sizes["write_back"]
        import redis as redis_lib

        settings = load_settings({"ODOO_URL": self.odoo.url, "ODOO_DB": self.odoo.db,
                                  "ODOO_API_KEY": self.bridge_key}, section={})
        since = self.odoo_side("max_id")["max_id"]
        self.worker.stop()
        self.odoo_side("dispatch", n)  # n jobs to report on, never run
        self.purge()
        jobs = self.admin("smart_dairy.job", "search_read", [("id", ">", since)], ["uuid"])
        redis = redis_lib.Redis.from_url(self.redis.url + "/0")
        for label, batch in (("batched (200 per call)", 200), ("not batched (1 per call)", 1)):
            rates = []
            for round_no in range(self.repeat):
                reporter = Reporter(redis, lambda: OdooClient(settings), batch_size=batch,
                                    key=f"sdj:bench:{batch}:{round_no}")
                started = time.perf_counter()
                for job in jobs:
                    reporter.submit({"uuid": job["uuid"], "attempt": 0, "state": "progress",
                                     "progress": round_no + 1})
                reporter.flush(timeout=600)
                rates.append(len(jobs) / (time.perf_counter() - started))
            self.record(f"write-back, {label}: {len(jobs)} reports", "reports/s", rates)
        self.worker.start()

    def memory_and_list(self):
        idle = sum(p.memory_info().rss for p in [psutil.Process(self.worker.process.pid)]
                   + self.worker.pool_children())
        self.rows.append(("resident memory of an idle worker (main + 2 pool processes)", "MiB", idle / 2**20,
                          idle / 2**20, idle / 2**20, ""))
        for total, goal in ((100_000, ""), (1_000_000, GOALS["list_1m"][0])):
            self.odoo_side("fill_jobs", total)
            samples = [s * 1000 for s in self.odoo_side("list_view", 5)["samples"]]
            self.record(f"job list view, search_read of the first page at {total:,} jobs (server side)", "ms",
                        samples, goal, key=f"list_{total}")
            if total == 100_000:
                self.admin("smart_dairy.job", "web_search_read", [], {"id": {}, "task_name": {}, "state": {}},
                           limit=80)
                rss = psutil.Process(self.odoo.process.pid).memory_info().rss / 2**20
                self.rows.append(("resident memory of Odoo (threaded server) after 100k jobs and a list view",
                                  "MiB", rss, rss, rss, ""))

    # ------------------------------------------------------------------ report

    def write(self, out, extra):
        versions = {
            "Python": platform.python_version(),
            "Celery": __import__("celery").__version__,
            "redis-server": subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2],
            "PostgreSQL": subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()[2],
            "Odoo": "18.0 at " + str(ODOO_PATH),
        }
        lines = [
            "# Benchmark results",
            "",
            f"Run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `scripts/run-bench.sh` "
            f"(`bench/run.py --repeat {self.repeat}`), on {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}.",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
            "One Odoo HTTP server (threaded, `workers = 0`), one Celery worker (prefork, 2 processes), a private "
            "redis-server, the local PostgreSQL. Every figure is min / median / max of the repeats.",
            "",
            "| scenario | unit | min | median | max | goal |",
            "|---|---|---:|---:|---:|---|",
        ]
        for scenario, unit, low, mid, high, goal in self.rows:
            lines.append(f"| {scenario} | {unit} | {low:,.1f} | {mid:,.1f} | {high:,.1f} | {goal} |")
        lines += ["", *extra, ""]
        Path(out).write_text("\n".join(lines))
        print("written", out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench itself")
    options = parser.parse_args()
    sizes = dict(dispatch=2000, xmlrpc=400, round_trip=2000, latency=200, queue_job=300, write_back=1000)
    if options.quick:
        sizes = {key: max(8, value // 20) for key, value in sizes.items()}
    bench = Bench(options.repeat, sizes)
    try:
        bench.start()
        bench.dispatch_in_odoo("loop")
        bench.dispatch_in_odoo("batch")
        bench.dispatch_over_xmlrpc(1)
        bench.dispatch_over_xmlrpc(8)
        bench.round_trip("loop")
        ours = bench.round_trip("batch")
        bench.latency()
        raw = bench.raw_celery()
        queue_job = bench.queue_job()
        bench.write_back()
        bench.memory_and_list()
        m = bench.medians

        def verdict(ok):
            return "met" if ok else "**missed**"
        extra = [
            "## Ratios measured in this run",
            "",
            f"- Round trip, recorded in Odoo end to end: {ours:,.0f} jobs/s; raw Celery on the same broker and "
            f"worker: {raw:,.0f} tasks/s, so our cost is {raw / ours:.1f}× raw Celery's per job.",
            f"- Against OCA queue_job draining the same trivial work inside Odoo: {ours / queue_job:.1f}× faster.",
            "",
            "## Goals",
            "",
            f"- Round trip ≥ 500 jobs/s: {ours:,.0f} — {verdict(ours >= 500)}; over 5× queue_job: "
            f"{ours / queue_job:.1f}× — {verdict(ours >= 5 * queue_job)}; within 2× of raw Celery: "
            f"{raw / ours:.1f}× — {verdict(raw / ours <= 2)}.",
            f"- Latency p50 ≤ 25 ms: {m['latency_p50'] * 1000:.1f} ms — {verdict(m['latency_p50'] <= 0.025)}; "
            f"p99 ≤ 50 ms: {m['latency_p99'] * 1000:.1f} ms — {verdict(m['latency_p99'] <= 0.050)}.",
            f"- Job list at 1M jobs < 200 ms: {m['list_1000000']:.1f} ms — {verdict(m['list_1000000'] < 200)}.",
        ]
        bench.write(options.out, extra)
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
