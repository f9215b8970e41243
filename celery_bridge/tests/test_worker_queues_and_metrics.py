"""Workers split by queue on one host, as real Celery worker processes (their own Redis, no Odoo):

- a queue paused and resumed (Odoo's broadcast, celery_bridge.broker.producer.set_consuming) comes
  back only on the worker started for it, never on the others;
- two workers started with the same METRICS_PORT serve their metrics on distinct ports, and the
  health check finds each one's own;
- neither a worker's start and stop nor a ``celery -A celery_bridge inspect`` command leaves
  anything in the temporary directory.

Which queues a worker should consume is decided by a pure function, tested first.
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from celery_bridge.broker import producer
from celery_bridge.broker.app_factory import make_app
from celery_bridge.core.config import load_settings
from celery_bridge.worker import healthcheck
from celery_bridge.worker.control import consumer_changes
from celery_bridge.worker.metrics import PORT_RANGE, candidate_ports
from tests.e2e.harness import REPO, RedisServer, free_port, stop_process, wait_for


def test_a_worker_consumes_the_queues_it_was_started_for_less_the_paused_ones():
    assert consumer_changes({"celery", "celery:high"}, set(), {"celery", "celery:high"}) == ([], [])
    assert consumer_changes({"celery", "celery:high"}, {"celery:high"}, {"celery", "celery:high"}) == \
        ([], ["celery:high"])
    assert consumer_changes({"celery", "celery:high"}, set(), {"celery"}) == (["celery:high"], [])


def test_a_resumed_queue_is_never_taken_up_by_a_worker_not_started_for_it():
    assert consumer_changes({"celery:payment"}, set(), {"celery:payment"}) == ([], [])
    assert consumer_changes({"celery:payment"}, {"celery:iot"}, set()) == (["celery:payment"], [])


def test_a_worker_started_while_its_only_queue_is_paused_consumes_nothing_then_all_of_it():
    assert consumer_changes({"celery:iot"}, {"celery:iot"}, {"celery:iot"}) == ([], ["celery:iot"])
    assert consumer_changes({"celery:iot"}, {"celery:iot"}, set()) == ([], [])
    assert consumer_changes({"celery:iot"}, set(), set()) == (["celery:iot"], [])


def test_a_queue_added_by_hand_stays_unless_paused():
    assert consumer_changes({"celery"}, set(), {"celery", "celery:low"}) == ([], [])
    assert consumer_changes({"celery"}, {"celery:low"}, {"celery", "celery:low"}) == ([], ["celery:low"])


def test_a_worker_whose_metrics_port_is_taken_tries_the_next_ones_but_the_ingestion_bridge_s():
    assert candidate_ports(9808, reserved={9809}) == [9808, *range(9810, 9808 + PORT_RANGE)]
    assert candidate_ports(9809, reserved={9809}) == list(range(9809, 9809 + PORT_RANGE))


class HostWorker:
    """A worker process of the shared host: its own name and queues, the host's TMPDIR and METRICS_PORT."""

    def __init__(self, workdir, broker, tmpdir, name, queues, metrics_port):
        self.name, self.queues = name, queues
        self.node = f"{name}@test-host"
        self.log = workdir / f"{name}.log"
        self.env = dict(
            os.environ, CELERY_BROKER_URL=f"{broker.url}/0", CELERY_RESULT_BACKEND=f"{broker.url}/1",
            ODOO_URL=f"http://127.0.0.1:{free_port()}", ODOO_DB="nowhere", ODOO_API_KEY="not-used", RPC_TIMEOUT="1",
            HEARTBEAT_INTERVAL="30", METRICS_PORT=str(metrics_port), TMPDIR=str(tmpdir),
            DIAGNOSTICS_DIR=str(workdir / "diagnostics"), PYTHONPATH=str(REPO))
        for name_ in ("ODOO_RC", "PROMETHEUS_MULTIPROC_DIR"):
            self.env.pop(name_, None)
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_bridge", "worker", "-Q", self.queues, "-c", "1",
             "-n", self.node, "-l", "INFO", "--without-gossip", "--without-mingle", f"--logfile={self.log}"],
            cwd=str(REPO), env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: (self.log.exists() and "ready." in self.log.read_text()) or self.process.poll() is not None,
                 timeout=60, what=f"worker {self.name} to be ready")
        assert self.process.poll() is None, self.log.read_text()

    def stop(self):
        if self.process:
            stop_process(self.process, 20)
            self.process = None


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("host")
    tmpdir = workdir / "tmp"  # the host's temporary directory, private to this test
    tmpdir.mkdir()
    broker = RedisServer(workdir)
    broker.start()
    metrics_port = free_port()
    workers = {name: HostWorker(workdir, broker, tmpdir, name, queues, metrics_port)
               for name, queues in (("general", "celery,celery:high"), ("iot", "celery:iot"))}
    settings = load_settings({"CELERY_BROKER_URL": f"{broker.url}/0", "CELERY_RESULT_BACKEND": f"{broker.url}/1"},
                             section={})
    try:
        with ThreadPoolExecutor(len(workers)) as starting:
            list(starting.map(HostWorker.start, workers.values()))
        yield type("Host", (), {"workers": workers, "tmpdir": tmpdir, "settings": settings, "broker": broker,
                                "metrics_port": metrics_port, "control": make_app(settings, current=False).control})
    finally:
        for worker in workers.values():
            worker.stop()
        broker.stop()


def consuming(host, worker):
    replies = host.control.inspect(destination=[worker.node], timeout=2).active_queues() or {}
    return {queue["name"] for queues in replies.values() for queue in queues}


def test_a_paused_then_resumed_queue_comes_back_only_on_the_worker_started_for_it(host):
    general, iot = host.workers["general"], host.workers["iot"]
    assert producer.set_consuming(host.settings, ["celery:iot", "celery:high"], False)
    wait_for(lambda: consuming(host, iot) == set() and consuming(host, general) == {"celery"}, timeout=15,
             what="both workers to stop consuming the paused queues")
    assert producer.set_consuming(host.settings, ["celery:iot", "celery:high"], True)
    wait_for(lambda: consuming(host, iot) == {"celery:iot"} and consuming(host, general) == {"celery", "celery:high"},
             timeout=15, what="each worker to consume its own resumed queue again")
    # Both handled the same broadcast by now: the general worker did not take up celery:iot.
    assert consuming(host, general) == {"celery", "celery:high"}


def test_two_workers_on_one_host_serve_metrics_on_distinct_ports_the_health_check_finds(host):
    notes = wait_for(lambda: healthcheck.noted_ports(host.tmpdir) if len(healthcheck.noted_ports(host.tmpdir)) == 2
                     else None, timeout=15, what="both workers to note their metrics port")
    assert set(notes) == {worker.node for worker in host.workers.values()}
    assert len(set(notes.values())) == 2
    assert set(notes.values()) <= set(range(host.metrics_port, host.metrics_port + PORT_RANGE))
    assert host.metrics_port in notes.values()
    for worker in host.workers.values():
        result = subprocess.run([sys.executable, "-m", "celery_bridge.worker.healthcheck", "--node", worker.node],
                                env=worker.env, cwd=str(REPO), capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith(f"{worker.node}: healthy") and f":{notes[worker.node]}/" in result.stdout
    moved = next(worker for worker in host.workers.values() if notes[worker.node] != host.metrics_port)
    assert f"serving metrics on port {notes[moved.node]}" in moved.log.read_text()


def test_workers_and_celery_commands_leave_nothing_in_the_temporary_directory(host):
    assert any(entry.name.startswith("sdj-prometheus-") for entry in host.tmpdir.iterdir()), \
        "a running worker keeps its counters there"
    for worker in host.workers.values():
        worker.stop()
    assert sorted(entry.name for entry in host.tmpdir.iterdir()) == []
    env = dict(host.workers["general"].env)
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "celery_bridge", "inspect", "ping", "--timeout", "1"],
        env=env, cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert "No nodes replied" in result.stdout + result.stderr
    assert sorted(entry.name for entry in host.tmpdir.iterdir()) == []
