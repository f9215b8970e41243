"""Real processes for end-to-end tests: a Redis server, an Odoo HTTP server, a Celery worker."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xmlrpc.client
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo18"))
ODOO_PRESENT = (ODOO_PATH / "odoo-bin").exists()
QUEUES = "celery,celery:high,celery:low,celery:iot,celery:email,celery:report,celery:payment"
ADMIN = ("admin", "admin")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=30.0, interval=0.1, what="condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the thing polled may not be up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def stop_process(process, grace):
    """Ask a process to stop; kill it if it has not within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def addons_path():
    # queue_job and our addons are pip packages (scripts/common.sh): Odoo finds them under odoo.addons.
    return str(ODOO_PATH / "addons")


# Odoo signs every job message with it and the workers run only signed messages, as in production.
SIGNING_SECRET = f"e2e-signing-{uuid.uuid4().hex}"


def odoo_env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # Odoo, the bridge and the addons run as the venv installed them, as in production
    for name in ("ODOO_URL", "ODOO_DB", "ODOO_API_KEY", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "ODOO_RC"):
        env.pop(name, None)
    env["JOB_SIGNING_SECRET"] = SIGNING_SECRET
    return env


def metric_sample(url, name, **labels):
    """A sample of a Prometheus endpoint (a worker's, the ingestion bridge's); 0.0 if absent."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    text = urlopen(url, timeout=5).read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (name, name + "_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def signed_headers(task_name, task_id, args=(), kwargs=None, **headers):
    """Message headers signed as Odoo signs them, for a test that publishes a job's message itself
    (a redelivery, a racing resend)."""
    from celery_bridge.core import signing
    from celery_bridge.broker.producer import ATTEMPT_HEADER, COMPANY_HEADER, KEY_HEADER, USER_HEADER

    headers[signing.HEADER] = signing.sign(
        SIGNING_SECRET, task_name, task_id, list(args), dict(kwargs or {}), headers.get(ATTEMPT_HEADER),
        headers.get(KEY_HEADER), headers.get(COMPANY_HEADER), headers.get(USER_HEADER))
    return headers


class RedisServer:
    """A private redis-server, so a test may stop and restart the broker."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10, what="redis-server to answer")

    def ping(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self):
        if self.process:
            stop_process(self.process, 10)
            self.process = None


class OdooServer:
    """Odoo as production runs it: prefork (HTTP workers, a cron worker), the websocket on the gevent
    port, and queue_job's runner in a process of its own (the WorkerJobRunner queue_job forks from the
    prefork master when it is a server-wide module, as its README deploys it)."""

    HTTP_WORKERS = 2
    ROLES = ("WorkerHTTP", "WorkerCron", "WorkerJobRunner")

    def __init__(self, workdir, broker_url):
        self.workdir = Path(workdir)
        self.db = f"sdj_e2e_{os.getpid()}"
        self.port = free_port()
        self.gevent_port = free_port()
        self.conf = self.workdir / "odoo.conf"
        self.log = self.workdir / "odoo.log"
        self.install_log = self.workdir / "install.log"
        self.process = None
        self.conf.write_text(
            "[options]\n"
            f"addons_path = {addons_path()}\n"
            f"data_dir = {self.workdir / 'data'}\n"
            "db_host = 127.0.0.1\n"
            f"db_user = {os.environ.get('PGUSER_ODOO', 'odoo')}\n"
            f"db_name = {self.db}\n"
            "dbfilter = ^%s$\n" % self.db
            + f"http_port = {self.port}\n"
            f"gevent_port = {self.gevent_port}\n"
            "http_interface = 127.0.0.1\n"
            f"workers = {self.HTTP_WORKERS}\n"
            "max_cron_threads = 1\n"
            # Production limits would kill a worker a slow 2-core test machine keeps busy (installing
            # a test's data, a sweep while the broker is down): generous, but still limits.
            "limit_time_cpu = 600\n"
            "limit_time_real = 1200\n"
            "limit_time_real_cron = 1200\n"
            "server_wide_modules = base,web,queue_job\n"
            "without_demo = all\n"
            "\n[queue_job]\nchannels = root:2\n"
            f"\n[smart_dairy_jobs]\ncelery_broker_url = {broker_url}/0\ncelery_result_backend = {broker_url}/1\n"
            "publish_timeout = 2\n"
        )

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _cmd(self, *extra):
        return [sys.executable, str(ODOO_PATH / "odoo-bin"), "-c", str(self.conf), *extra]

    def install(self):
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", self.db], check=True)
        with open(self.install_log, "w") as log:
            subprocess.run(
                self._cmd("-i", "smart_dairy_jobs,smart_dairy_iot,smart_dairy_operations", "--stop-after-init", "--log-level=info"),
                stdout=log, stderr=subprocess.STDOUT, env=odoo_env(), check=True, timeout=600,
            )

    @property
    def websocket_url(self):
        return f"ws://127.0.0.1:{self.gevent_port}/websocket"

    def start(self):
        self.log_handle = open(self.log, "a")
        # A session of its own: the master, its forked workers and the gevent process stop as one group.
        self.process = subprocess.Popen(self._cmd(), stdout=self.log_handle, stderr=subprocess.STDOUT, env=odoo_env(),
                                        start_new_session=True)
        wait_for(lambda: self.rpc("common").version(), timeout=90, interval=0.3, what="Odoo to serve XML-RPC")
        wait_for(self._websocket_healthy, timeout=60, interval=0.3, what="Odoo's gevent process to serve /websocket")

    def _websocket_healthy(self):
        from urllib.request import urlopen

        with urlopen(f"http://127.0.0.1:{self.gevent_port}/websocket/health", timeout=5) as response:
            return response.status == 200

    def processes(self):
        """The live processes of this server by role: the prefork workers ("WorkerHTTP", "WorkerCron",
        "WorkerJobRunner", as each logs itself alive) and "gevent" (the websocket server)."""
        import psutil

        children = {child.pid: child for child in psutil.Process(self.process.pid).children(recursive=True)}
        roles = {role: [] for role in (*self.ROLES, "gevent")}
        for line in self.log.read_text(errors="replace").splitlines():
            for role in self.ROLES:
                marker = f"Worker {role} ("
                if marker in line:
                    pid = int(line.split(marker, 1)[1].split(")", 1)[0])
                    if pid in children and pid not in roles[role]:
                        roles[role].append(pid)
        roles["gevent"] = [pid for pid, child in children.items() if "gevent" in child.cmdline()]
        return roles

    def stop_http(self):
        if self.process:
            group = self.process.pid
            stop_process(self.process, 20)
            try:  # a worker still finishing a request when the master went
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process = None
            self.log_handle.close()

    def stop(self):
        self.stop_http()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", self.db], check=False)

    def rpc(self, endpoint):
        return xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/{endpoint}", allow_none=True)

    def sql(self, query, params=()):
        """Run one SQL statement on this database, committed: for what no API may do, such as moving
        a system-set timestamp into the past to stand for time gone by."""
        import psycopg2

        with psycopg2.connect(host="127.0.0.1", user=os.environ.get("PGUSER_ODOO", "odoo"), dbname=self.db) as conn:
            with conn.cursor() as cr:
                cr.execute(query, params)
                return cr.rowcount

    def run_odoo_python(self, script, *args, timeout=120):
        """Run a script that uses Odoo in-process against this database (real commits and rollbacks)."""
        result = subprocess.run(
            [sys.executable, str(script), str(self.conf), self.db, *args],
            capture_output=True, text=True, env=odoo_env(), timeout=timeout,
        )
        if result.returncode:
            raise AssertionError(f"{script} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout


class MosquittoServer:
    """A private MQTT broker, persistent so queued QoS 1 messages outlive a restart."""

    def __init__(self, workdir):
        self.dir = Path(workdir) / "mosquitto"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.dir}/\nautosave_interval 1\n"
            # As root, mosquitto would switch to its own user, who cannot write in pytest's private tmp.
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.process = None

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.dir / "mosquitto.log", "a"))
        wait_for(self._listening, timeout=15, what="mosquitto to listen")

    def _listening(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self):
        if self.process:
            stop_process(self.process, 10)
            self.process = None


class Ingestor:
    """The MQTT ingestion bridge process (python -m celery_bridge.services.iot_ingest)."""

    def __init__(self, workdir, odoo, mqtt_url, api_key):
        self.log = Path(workdir) / "ingest.log"
        self.env = dict(
            odoo_env(), ODOO_URL=odoo.url, ODOO_DB=odoo.db, ODOO_API_KEY=api_key, MQTT_URL=mqtt_url,
            MQTT_CLIENT_ID=f"e2e-ingest-{os.getpid()}", IOT_BATCH_WINDOW="0.2", IOT_METRICS_PORT=str(free_port()),
        )
        self.metrics_url = f"http://127.0.0.1:{self.env['IOT_METRICS_PORT']}/metrics"
        self.process = None

    def start(self):
        self.process = subprocess.Popen([sys.executable, "-m", "celery_bridge.services.iot_ingest"], cwd=str(REPO),
                                        env=self.env, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_for(lambda: self.metric("smart_dairy_iot_mqtt_connected") == 1.0, timeout=30,
                 what="the ingestion bridge to connect")

    def metric(self, name, **labels):
        """A sample of the bridge's Prometheus endpoint (0.0 if absent)."""
        return metric_sample(self.metrics_url, name, **labels)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process:
            stop_process(self.process, 20)
            self.process = None


class Client:
    """An XML-RPC client as an external service would write it."""

    def __init__(self, server, login, secret):
        self.server = server
        self.login = login
        self.secret = secret
        self.uid = server.rpc("common").authenticate(server.db, login, secret, {})
        assert self.uid, f"cannot log in as {login}"

    def __call__(self, model, method, *args, **kwargs):
        return self.server.rpc("object").execute_kw(
            self.server.db, self.uid, self.secret, model, method, list(args), kwargs
        )


def issue_bridge_key(admin):
    """The bridge user's API key, issued as a Jobs manager does it (Jobs › Configuration › Bridge API Key)."""
    wizard_id = admin("smart_dairy.job.bridge.key", "create", {})
    admin("smart_dairy.job.bridge.key", "action_issue_key", [wizard_id])
    return admin("smart_dairy.job.bridge.key", "read", [wizard_id], ["key"])[0]["key"]


class Worker:
    def __init__(self, workdir, odoo, broker_url, api_key, name="e2e", concurrency=2, queues=QUEUES):
        self.log = Path(workdir) / f"worker-{name}.log"
        # Where touch and expect_file read and write (they take a file name, never a path); shared by
        # every worker of the session, as the workers of one host share theirs.
        self.diagnostics_dir = Path(workdir) / "diagnostics"
        self.diagnostics_dir.mkdir(mode=0o700, exist_ok=True)
        self.env = dict(
            odoo_env(), ODOO_URL=odoo.url, ODOO_DB=odoo.db, ODOO_API_KEY=api_key,
            CELERY_BROKER_URL=f"{broker_url}/0", CELERY_RESULT_BACKEND=f"{broker_url}/1",
            HEARTBEAT_INTERVAL="1", METRICS_PORT=str(free_port()), DIAGNOSTICS_DIR=str(self.diagnostics_dir),
            ODOO_RC=str(odoo.conf),  # the IoT tasks find Odoo's database from its db_* options
        )
        self.metrics_url = f"http://127.0.0.1:{self.env['METRICS_PORT']}/metrics"
        self.name = name
        self.concurrency = concurrency
        self.queues = queues  # -Q: the queues this worker serves, as a docker-compose fleet splits them
        self.process = None

    def start(self):
        readies = self.log.read_text().count("ready.") if self.log.exists() else 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_bridge", "worker", "-Q", self.queues,
             "-c", str(self.concurrency),
             "-n", f"{self.name}@%h", "-l", "INFO", "--without-gossip", "--without-mingle",
             f"--logfile={self.log}"],
            cwd=str(REPO), env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.log.read_text().count("ready.") > readies or self.process.poll() is not None,
                 timeout=60, what="the Celery worker to be ready")
        assert self.process.poll() is None, self.log.read_text()

    def diagnostics_file(self, prefix="runs"):
        """A fresh diagnostics file: its name (for touch / expect_file) and its path here."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}.txt"
        return name, self.diagnostics_dir / name

    def stop(self):
        if self.process:
            stop_process(self.process, 30)
            self.process = None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def pool_children(self):
        import psutil

        return psutil.Process(self.process.pid).children(recursive=True)

    def kill_hard(self):
        """SIGKILL the worker and its pool processes, as a crash or the OOM killer would."""
        import psutil

        victims = [psutil.Process(self.process.pid)] + self.pool_children()
        for victim in victims:
            victim.kill()
        psutil.wait_procs(victims, timeout=10)
        self.process.wait()
        self.process = None
