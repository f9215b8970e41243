"""docker-compose.yml, run as far as this machine can without a Docker engine.

Each service's own command, entrypoint, environment and health check are taken from the compose file
(and the image's ENTRYPOINT/ENV from its Dockerfile) and executed here, with only what a container
has and this machine has not mapped to local equivalents: host names and ports (db → 127.0.0.1, redis
→ a private redis-server, mosquitto → a private Mosquitto, odoo → a local Odoo), named volumes and
container paths → folders of this test, bind mounts → the repository's files. The images themselves
are never built here (README › docker-compose › "What was not run").
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import uuid
import xmlrpc.client
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import ADMIN, ODOO_PATH, ODOO_PRESENT, free_port, wait_for

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

WORKER_FLEETS = ("worker-general", "worker-maintenance", "worker-iot", "worker-email", "worker-report",
                 "worker-payment")
SECRETS = {
    "POSTGRES_PASSWORD": f"pg-{uuid.uuid4().hex}",  # PostgreSQL here trusts local clients: unused
    "REDIS_PASSWORD": f"redis-{uuid.uuid4().hex}",
    "JOB_SIGNING_SECRET": f"sign-{uuid.uuid4().hex}",
    "ODOO_ADMIN_PASSWORD": f"master-{uuid.uuid4().hex}",
    "MQTT_INGEST_PASSWORD": f"ingest-{uuid.uuid4().hex}",
    "MQTT_DEVICE_PASSWORD": f"device-{uuid.uuid4().hex}",
    "FLOWER_BASIC_AUTH": f"ops:flower-{uuid.uuid4().hex}",
}

# ---------------------------------------------------------------- reading the compose file

_VARIABLE = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def interpolate(value, environ):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$, in every string of ``value``."""
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        if match.group("dollar"):
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        found = environ.get(name)
        if op in (":?", "?") and not found:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not found:
            return arg
        return found or ""

    return _VARIABLE.sub(replace, value)


def compose(environ=None):
    return interpolate(yaml.safe_load((REPO / "docker-compose.yml").read_text()), environ or SECRETS)


def dockerfile(name):
    """(ENTRYPOINT, ENV, COPY instructions) of docker/<name>.Dockerfile."""
    entrypoint, env, copies = [], {}, []
    for line in re.sub(r"\\\n", " ", (REPO / "docker" / f"{name}.Dockerfile").read_text()).splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "ENTRYPOINT":
            entrypoint = json.loads(line.split(None, 1)[1])
        elif words[0] == "ENV":
            env.update(word.split("=", 1) for word in words[1:])
        elif words[0] == "COPY" and not any(word.startswith("--from") for word in words):
            copies.append((words[1:-1], words[-1]))
    return entrypoint, env, copies


def dockerignored(relative):
    """Whether .dockerignore leaves ``relative`` (or a folder holding it) out of the build context."""
    import fnmatch

    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = Path(relative).parts
    for depth in range(1, len(parts) + 1):
        candidate = "/".join(parts[:depth])
        for pattern in patterns:
            if fnmatch.fnmatch(candidate, pattern) or (pattern.startswith("**/")
                                                       and fnmatch.fnmatch(parts[depth - 1], pattern[3:])):
                return True
    return False


# ---------------------------------------------------------------- checks without running anything


def test_every_build_context_holds_what_its_dockerfile_copies():
    services = compose()["services"]
    built = {name: service["build"] for name, service in services.items() if "build" in service}
    assert {"odoo", "odoo-init", "worker-general", "iot-ingest"} <= set(built)
    for name, build in built.items():
        context = (REPO / build["context"]).resolve()
        _entrypoint, _env, copies = dockerfile(Path(build["dockerfile"]).name.replace(".Dockerfile", ""))
        assert copies, build["dockerfile"]
        for sources, _target in copies:
            for source in sources:
                assert (context / source).exists(), f"{name}: {build['dockerfile']} copies {source}, not in its context"
                assert not dockerignored(source), f"{name}: .dockerignore leaves out {source}"
    assert dockerignored(".venv/bin/python") and dockerignored(".env") and dockerignored(".git/config")
    assert dockerignored("addons/smart_dairy_jobs/build/__editable__")
    assert not dockerignored("addons/smart_dairy_jobs/__manifest__.py")


def test_the_odoo_image_installs_the_addons_as_packages_not_into_the_extra_addons_volume():
    text = (REPO / "docker" / "odoo.Dockerfile").read_text()
    _entrypoint, _env, copies = dockerfile("odoo")
    assert all(not target.startswith("/mnt/extra-addons") for _sources, target in copies)
    install = re.search(r"pip3? install [^&]*", re.sub(r"\\\n", " ", text)).group(0)
    for package in ("./addons/smart_dairy_jobs", "./addons/smart_dairy_iot", "./addons/smart_dairy_operations",
                    " . ", "-c constraints.txt"):
        assert package in install + " ", package
    for image in ("odoo", "worker"):
        assert "PYTHONPATH" not in dockerfile(image)[1], f"the {image} image finds its code by a PYTHONPATH"


def test_every_service_has_a_health_check_and_waits_for_what_it_needs():
    services = compose()["services"]
    for name, service in services.items():
        if name == "odoo-init":
            continue  # one-shot: the others wait for it to complete
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in (*WORKER_FLEETS, "iot-ingest"):
        depends = services[name]["depends_on"]
        assert depends["odoo-init"] == {"condition": "service_completed_successfully"}, name
        assert depends["odoo"] == {"condition": "service_healthy"}, name
    assert services["odoo"]["depends_on"]["odoo-init"] == {"condition": "service_completed_successfully"}
    assert services["odoo-init"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["proxy"]["depends_on"]["odoo"] == {"condition": "service_healthy"}


def test_only_the_proxy_and_the_mqtt_broker_are_published():
    published = {name for name, service in compose()["services"].items() if service.get("ports")}
    assert published == {"proxy", "mosquitto"}


def test_flower_has_the_spec_options_and_leaves_task_events_off():
    services = compose()["services"]
    flower = services["flower"]["environment"]
    assert flower["FLOWER_URL_PREFIX"] == "flower"
    assert flower["FLOWER_MAX_TASKS"] == "10000"
    assert flower["FLOWER_PURGE_OFFLINE_WORKERS"] == "10"
    assert flower["FLOWER_BASIC_AUTH"] == SECRETS["FLOWER_BASIC_AUTH"]
    # Flower would otherwise broadcast enable_events to every worker every few seconds.
    assert flower["FLOWER_ENABLE_EVENTS"] == "false"
    for name in WORKER_FLEETS:
        command = services[name]["command"]
        assert "-E" not in command and "--task-events" not in command, name
    assert "location /flower/" in (REPO / "deploy" / "nginx.conf").read_text()


def test_backups_go_to_a_volume_with_the_filestore_mounted_read_only():
    maintenance = compose()["services"]["worker-maintenance"]
    assert "celery:low" in maintenance["command"][maintenance["command"].index("-Q") + 1].split(",")
    assert "backups:/var/backups/smart_dairy" in maintenance["volumes"]
    assert "odoo-data:/var/lib/odoo:ro" in maintenance["volumes"]
    assert maintenance["environment"]["BACKUP_DIR"] == "/var/backups/smart_dairy"
    assert maintenance["environment"]["ODOO_DATA_DIR"] == "/var/lib/odoo"
    others = [name for name in WORKER_FLEETS if name != "worker-maintenance"]
    for name in others:
        queues = compose()["services"][name]["command"]
        assert "celery:low" not in queues[queues.index("-Q") + 1].split(","), f"{name} would take backups"


# ---------------------------------------------------------------- running the services here


class Stack:
    """The compose file's services as local processes (see the module's docstring)."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.db = f"sdj_compose_{os.getpid()}"
        self.environ = dict(SECRETS, ODOO_DB=self.db)
        self.services = compose(self.environ)["services"]
        self.ports = {("redis", 6379): free_port(), ("odoo", 8069): free_port(), ("odoo", 8072): free_port(),
                      ("mosquitto", 1883): free_port(), ("flower", 5555): free_port(), ("proxy", 80): free_port()}
        self.processes = {}
        self.logs = {}
        self.bin = self.workdir / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self._install_commands()

    # -- what a container has and this machine has not

    def _install_commands(self):
        """The images' commands as executables on PATH: Odoo and the bridge's console scripts as this
        venv installed them (the same packages the images install), the Odoo image's entrypoint (from
        its COPY line)."""
        for name in ("odoo", "sdj-worker-healthcheck", "sdj-iot-ingest", "celery", "python", "python3"):
            assert (VENV_BIN / name).exists(), f"{VENV_BIN / name} is missing: is the venv set up (scripts/run-tests.sh)?"
            (self.bin / name).symlink_to(VENV_BIN / name)
        _entrypoint, _env, copies = dockerfile("odoo")
        for sources, target in copies:
            if target.startswith("/usr/local/bin/"):
                (self.bin / Path(target).name).symlink_to(REPO / sources[0])

    def private_tmp(self, name):
        folder = self.workdir / "tmp" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def volume(self, name):
        folder = self.workdir / "volumes" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def path_map(self, service):
        """Container path → local path, from the service's volumes (named → a folder of this test,
        ./bind → the repository)."""
        mapping = {}
        for spec in self.services[service].get("volumes", []):
            source, target = spec.split(":")[:2]
            mapping[target] = REPO / source if source.startswith(".") else self.volume(source)
        return mapping

    def localize(self, value, service):
        if isinstance(value, list):
            return [self.localize(item, service) for item in value]
        if isinstance(value, dict):
            return {key: self.localize(item, service) for key, item in value.items()}
        if not isinstance(value, str):
            return value
        for (host, port), local in self.ports.items():
            value = value.replace(f"{host}:{port}", f"127.0.0.1:{local}")
        value = re.sub(r"\bhost=db\b", "host=127.0.0.1", value)
        if value == "db":  # a host name on its own (DB_HOST)
            value = "127.0.0.1"
        for port, local in self.ports_of_service().get(service, {}).items():
            # The service's own ports: on its command line, in its health check, as a setting.
            value = str(local) if value == str(port) else value
            value = value.replace(f"127.0.0.1:{port}", f"127.0.0.1:{local}")
            value = value.replace(f"-port={port}", f"-port={local}").replace(f"-p {port} ", f"-p {local} ")
        for target, local in sorted(self.path_map(service).items(), key=lambda item: -len(item[0])):
            value = value.replace(target, str(local))
        return value.replace("smart-dairy-secrets", self.local_group)

    @property
    def local_group(self):
        import grp

        return grp.getgrgid(os.getgid()).gr_name

    def ports_of_service(self):
        return {"odoo": {8069: self.ports[("odoo", 8069)], 8072: self.ports[("odoo", 8072)]},
                "mosquitto": {1883: self.ports[("mosquitto", 1883)]},
                "iot-ingest": {9809: self.iot_metrics_port}}

    @property
    def iot_metrics_port(self):
        if not hasattr(self, "_iot_metrics_port"):
            self._iot_metrics_port = free_port()
        return self._iot_metrics_port

    def env(self, service, image=None, **local):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("ODOO_", "CELERY_", "MQTT_", "DB_", "REDIS")) and key != "PYTHONPATH"}
        env["PATH"] = f"{self.bin}{os.pathsep}{env['PATH']}"
        # A container's /tmp is its own (the health check finds its worker's metrics port noted there).
        env["TMPDIR"] = str(self.private_tmp(service))
        if image:
            for key, value in dockerfile(image)[1].items():
                env[key] = value
        env.update({key: str(value) for key, value in (self.services[service].get("environment") or {}).items()})
        env = self.localize(env, service)
        env.update({key: str(value) for key, value in local.items()})
        return env

    def image_path(self, env, key, folder=True):
        """A path the image's ENV names (not a volume): a folder (or a file's folder) of this test."""
        local = self.workdir / "image" / env[key].strip("/").replace("/", "_")
        if folder:
            local.mkdir(parents=True, exist_ok=True, mode=0o700)
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
        env[key] = str(local)
        return env

    # -- processes

    def start(self, name, argv, env, **popen):
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(argv, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                                cwd=str(self.workdir), start_new_session=True, **popen)
        return self.processes[name]

    def run(self, argv, env, timeout=60, **kwargs):
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(self.workdir),
                              **kwargs)

    def healthcheck(self, service, env):
        test = self.localize(self.services[service]["healthcheck"]["test"], service)
        argv = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
        return self.run(argv, env, timeout=30)

    def stop(self):
        import signal

        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:  # all at once: each takes its time to stop
            process.terminate()
        deadline = time.monotonic() + 30
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)  # what a process group left: Odoo's prefork children, a pool
            except (ProcessLookupError, PermissionError):
                pass
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", self.db], check=False)

    def log_text(self, name):
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    # -- the services, in the order compose starts them

    def start_redis(self):
        service = self.services["redis"]
        port = self.ports[("redis", 6379)]
        argv = self.localize(service["command"], "redis") + ["--port", str(port), "--bind", "127.0.0.1",
                                                             "--dir", str(self.volume("redis-data"))]
        env = self.env("redis")
        self.start("redis", argv, env)
        wait_for(lambda: self.healthcheck("redis", env).returncode == 0, timeout=20, what="Redis's health check")
        self.redis_env = env

    def start_mosquitto(self):
        env = self.env("mosquitto", MQTT_PORT=self.ports[("mosquitto", 1883)], MQTT_BIND="127.0.0.1",
                       MOSQUITTO_RUN_DIR=self.workdir / "image" / "mosquitto_run",
                       MOSQUITTO_DATA_DIR=self.path_map("mosquitto")["/mosquitto/data"],
                       # As root here, Mosquitto would switch to a user who cannot enter pytest's folders.
                       MOSQUITTO_USER="root" if os.geteuid() == 0 else "")
        if os.geteuid() != 0:
            env.pop("MOSQUITTO_USER")
        self.start("mosquitto", self.localize(self.services["mosquitto"]["command"], "mosquitto"), env)
        wait_for(lambda: self.healthcheck("mosquitto", env).returncode == 0, timeout=20,
                 what="Mosquitto's health check")
        self.mosquitto_env = env

    def odoo_env(self, service):
        env = self.env(service, image="odoo", ODOO_DATA_DIR=self.path_map(service)["/var/lib/odoo"])
        return self.image_path(env, "ODOO_RC", folder=False)

    def odoo_argv(self, service):
        entrypoint = dockerfile("odoo")[0]
        return entrypoint + self.localize(self.services[service]["command"], service)

    def run_odoo_init(self):
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", self.db], check=True)
        env = self.odoo_env("odoo-init")
        self.odoo_init = self.run(self.odoo_argv("odoo-init"), env, timeout=600)
        (self.workdir / "odoo-init.log").write_text(self.odoo_init.stdout + self.odoo_init.stderr)
        self.logs["odoo-init"] = self.workdir / "odoo-init.log"

    def start_odoo(self):
        env = self.odoo_env("odoo")
        # Here, not on every interface of the machine (a container has its own).
        self.start("odoo", self.odoo_argv("odoo") + ["--http-interface=127.0.0.1"], env)
        wait_for(lambda: self.healthcheck("odoo", env).returncode == 0 or self.processes["odoo"].poll() is not None,
                 timeout=120, interval=0.5, what="Odoo's health check")
        assert self.processes["odoo"].poll() is None, self.log_text("odoo")[-3000:]
        self.odoo_env_ = env

    def start_workers(self):
        self.worker_envs = {}
        for name in WORKER_FLEETS:
            service = self.services[name]
            env = self.env(name, image="worker", METRICS_PORT=free_port())
            env = self.image_path(env, "DIAGNOSTICS_DIR")
            argv = dockerfile("worker")[0] + self.localize(service["command"], name)
            self.start(name, argv, env)
            self.worker_envs[name] = env
        for name in WORKER_FLEETS:
            wait_for(lambda: self.healthcheck(name, self.worker_envs[name]).returncode == 0
                     or self.processes[name].poll() is not None, timeout=90, interval=0.5,
                     what=f"{name}'s health check")
            assert self.processes[name].poll() is None, self.log_text(name)[-3000:]

    def start_ingest(self):
        env = self.env("iot-ingest", image="worker", MQTT_CLIENT_ID=f"compose-ingest-{os.getpid()}")
        argv = self.services["iot-ingest"]["entrypoint"] + self.services["iot-ingest"]["command"]
        self.start("iot-ingest", argv, env)
        wait_for(lambda: self.healthcheck("iot-ingest", env).returncode == 0
                 or self.processes["iot-ingest"].poll() is not None, timeout=60, interval=0.5,
                 what="the ingestion bridge's health check")
        assert self.processes["iot-ingest"].poll() is None, self.log_text("iot-ingest")[-3000:]
        self.ingest_env = env

    def start_proxy(self):
        conf = (REPO / "deploy" / "nginx.conf").read_text()
        for (host, port), local in self.ports.items():
            conf = conf.replace(f"server {host}:{port};", f"server 127.0.0.1:{local};")
        conf = conf.replace("listen 80;", f"listen 127.0.0.1:{self.ports[('proxy', 80)]};")
        folder = self.workdir / "nginx"
        folder.mkdir(exist_ok=True)
        (folder / "default.conf").write_text(conf)
        (folder / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
            f"http {{\n access_log off;\n client_body_temp_path {folder}/body;\n proxy_temp_path {folder}/proxy;\n"
            f" fastcgi_temp_path {folder}/fastcgi;\n uwsgi_temp_path {folder}/uwsgi;\n scgi_temp_path {folder}/scgi;\n"
            f" include {folder}/default.conf;\n}}\n")
        self.start("proxy", [shutil.which("nginx"), "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                   dict(os.environ))
        test = [part.replace("http://127.0.0.1/", f"http://127.0.0.1:{self.ports[('proxy', 80)]}/")
                for part in self.services["proxy"]["healthcheck"]["test"][1:]]
        wait_for(lambda: self.run(test, dict(os.environ)).returncode == 0, timeout=20, what="the proxy's health check")

    # -- Odoo as a client

    def rpc(self, endpoint):
        return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.ports[('odoo', 8069)]}/xmlrpc/2/{endpoint}",
                                         allow_none=True)

    def call(self, login, secret, model, method, *args, **kwargs):
        uid = self.rpc("common").authenticate(self.db, login, secret, {})
        assert uid, f"{login} cannot log in"
        return self.rpc("object").execute_kw(self.db, uid, secret, model, method, list(args), kwargs)

    def admin(self, model, method, *args, **kwargs):
        return self.call(*ADMIN, model, method, *args, **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not ODOO_PRESENT:
        pytest.skip(f"running the compose services needs Odoo 18 at {ODOO_PATH}")
    for tool in ("redis-server", "redis-cli", "mosquitto", "mosquitto_passwd", "mosquitto_sub", "pg_isready"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    services = Stack(tmp_path_factory.mktemp("compose"))
    try:
        services.start_redis()
        services.start_mosquitto()
        services.run_odoo_init()
        assert services.odoo_init.returncode == 0, services.log_text("odoo-init")[-4000:]
        services.start_odoo()
        services.start_workers()
        services.start_ingest()
        yield services
    finally:
        services.stop()


def test_postgres_health_check_passes_here():
    if not shutil.which("pg_isready"):
        pytest.skip("pg_isready is not installed")
    test = compose()["services"]["db"]["healthcheck"]["test"]
    assert subprocess.run(test[1:], capture_output=True).returncode == 0


def test_redis_refuses_a_client_without_the_password(stack):
    port = str(stack.ports[("redis", 6379)])
    anonymous = {key: value for key, value in os.environ.items() if key != "REDISCLI_AUTH"}
    refused = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", port, "ping"], capture_output=True, text=True,
                             env=anonymous)
    assert "NOAUTH" in refused.stdout + refused.stderr
    assert stack.healthcheck("redis", stack.redis_env).returncode == 0


def test_mosquitto_refuses_anonymous_clients_and_wrong_passwords(stack):
    port = str(stack.ports[("mosquitto", 1883)])
    base = ["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "smartdairy/#", "-C", "1", "-W", "3"]
    anonymous = subprocess.run(base, capture_output=True, text=True)
    assert anonymous.returncode != 0 and "not authorised" in (anonymous.stdout + anonymous.stderr).lower()
    wrong = subprocess.run(base + ["-u", "smart-dairy-ingest", "-P", "not-the-password"], capture_output=True, text=True)
    assert wrong.returncode != 0 and "not authorised" in (wrong.stdout + wrong.stderr).lower()
    # Devices may publish readings, not read anyone's.
    device = subprocess.run(base[:-4] + ["-t", "$SYS/broker/uptime", "-C", "1", "-W", "3", "-u", "smart-dairy-device",
                                         "-P", SECRETS["MQTT_DEVICE_PASSWORD"]], capture_output=True, text=True)
    assert device.returncode != 0, "a device read the broker's $SYS topics"


def test_odoo_init_installs_the_addons_and_writes_the_bridge_key_for_the_workers(stack):
    key_file = stack.volume("bridge-secrets") / "bridge_api_key"
    mode = key_file.stat().st_mode
    assert stat.S_IMODE(mode) == 0o640 and key_file.stat().st_gid == os.getgid()
    key = key_file.read_text().strip()
    uid = stack.rpc("common").authenticate(stack.db, "smart_dairy_jobs_bridge", key, {})
    assert uid, "the key in the file does not log the bridge user in"
    installed = stack.admin("ir.module.module", "search_read",
                            [("name", "in", ["queue_job", "smart_dairy_jobs", "smart_dairy_iot",
                                             "smart_dairy_operations"])], ["name", "state"])
    assert {row["name"]: row["state"] for row in installed} == dict.fromkeys(
        ["queue_job", "smart_dairy_jobs", "smart_dairy_iot", "smart_dairy_operations"], "installed")
    assert key not in stack.log_text("odoo-init")


def test_odoo_runs_prefork_with_the_compose_command_and_a_locked_database_manager(stack):
    import psutil

    master = psutil.Process(stack.processes["odoo"].pid)
    children = master.children(recursive=True)
    assert len(children) >= 4 + 1 + 1, "HTTP workers, the cron worker, the gevent process"
    assert any("gevent" in " ".join(child.cmdline()) for child in children)
    conf = Path(stack.odoo_env_["ODOO_RC"])
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600, "the configuration holds the passwords"
    from urllib.request import Request, urlopen

    def db_service(method, *args):
        body = json.dumps({"jsonrpc": "2.0", "method": "call",
                           "params": {"service": "db", "method": method, "args": list(args)}}).encode()
        request = Request(f"http://127.0.0.1:{stack.ports[('odoo', 8069)]}/jsonrpc", data=body,
                          headers={"Content-Type": "application/json"})
        return json.loads(urlopen(request, timeout=30).read())

    # Locked even for whoever knows the master password: no listing, no dump, no drop.
    assert "error" in db_service("list")
    assert "error" in db_service("dump", SECRETS["ODOO_ADMIN_PASSWORD"], stack.db, "zip")
    assert "error" in db_service("drop", SECRETS["ODOO_ADMIN_PASSWORD"], stack.db)
    assert stack.admin("res.users", "search_count", [("login", "=", "admin")]) == 1, "the database is still there"


def test_the_proxy_routes_odoo_and_the_websocket_to_the_gevent_port(stack):
    if not shutil.which("nginx"):
        pytest.skip("nginx is not installed (scripts/run-tests.sh installs Debian's)")
    import websocket
    from urllib.request import urlopen

    stack.start_proxy()
    proxy = f"127.0.0.1:{stack.ports[('proxy', 80)]}"
    assert urlopen(f"http://{proxy}/web/health", timeout=10).status == 200
    connection = websocket.create_connection(f"ws://{proxy}/websocket", timeout=20,
                                             header=[f"Origin: http://{proxy}"])
    try:
        assert connection.getstatus() == 101
    finally:
        connection.close()


def test_every_worker_fleet_passes_its_health_check_with_the_key_from_the_file(stack):
    for name in WORKER_FLEETS:
        result = stack.healthcheck(name, stack.worker_envs[name])
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert "ODOO_API_KEY" not in stack.worker_envs[name]


def _wait_for_jobs(stack, job_ids, timeout=90):
    def finished():
        rows = stack.admin("smart_dairy.job", "read", job_ids, ["state", "worker_hostname", "queue_id", "task_name",
                                                                "result_json", "error_message"])
        return rows if all(row["state"] in ("success", "failure", "cancelled") for row in rows) else None

    return wait_for(finished, timeout=timeout, interval=0.5, what="the jobs to finish")


def test_a_job_on_each_queue_runs_on_the_fleet_that_serves_it(stack):
    expected = {}
    for name in WORKER_FLEETS:
        command = stack.services[name]["command"]
        for queue in command[command.index("-Q") + 1].split(","):
            job = stack.admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping", queue=queue)
            expected[job if isinstance(job, int) else job[0]] = name
    rows = _wait_for_jobs(stack, list(expected))
    for row in rows:
        assert row["state"] == "success", row
        assert row["worker_hostname"].startswith(expected[row["id"]] + "@"), (row["queue_id"], row["worker_hostname"])


def test_readings_published_with_the_device_password_reach_the_iot_fleet(stack):
    code = f"COMPOSE-{uuid.uuid4().hex[:6]}"
    stack.admin("smart_dairy.iot.device", "create", {"name": f"Meter {code}", "device_code": code,
                                                     "device_type": "milk_meter"})
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    published = subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(stack.ports[("mosquitto", 1883)]), "-q", "1",
         "-u", "smart-dairy-device", "-P", SECRETS["MQTT_DEVICE_PASSWORD"], "-t", f"smartdairy/farm-1/{code}/readings",
         "-m", json.dumps({"metric": "milk_yield", "value": 12.5, "ts": stamp, "unit": "L"})],
        capture_output=True, text=True, timeout=30)
    assert published.returncode == 0, published.stderr
    job_ids = wait_for(lambda: stack.admin("smart_dairy.job", "search",
                                           [("task_name", "=", "smart_dairy.iot.process_sensor_data"),
                                            ("args_json", "ilike", code)]),
                       timeout=60, what="the ingestion bridge to hand the reading to Odoo")
    [row] = _wait_for_jobs(stack, job_ids)
    assert row["state"] == "success", row
    assert row["worker_hostname"].startswith("worker-iot@")


def test_the_nightly_backup_runs_on_the_maintenance_fleet_with_the_filestore(stack):
    job = stack.admin("smart_dairy.job", "dispatch", "smart_dairy.maintenance.backup_database", kwargs={"keep": 2})
    [row] = _wait_for_jobs(stack, [job if isinstance(job, int) else job[0]], timeout=180)
    assert row["state"] == "success", row
    assert row["worker_hostname"].startswith("worker-maintenance@")
    result = json.loads(row["result_json"])
    backups = stack.volume("backups")
    assert Path(result["file"]).parent == backups and Path(result["filestore"]).parent == backups
    import tarfile

    with tarfile.open(result["filestore"]) as tar:
        names = tar.getnames()
    assert any(name.startswith(f"filestore/{stack.db}/") for name in names), names[:5]


def test_no_secret_reaches_a_log(stack):
    key = (stack.volume("bridge-secrets") / "bridge_api_key").read_text().strip()
    secrets = [key] + [value for name, value in SECRETS.items() if name != "FLOWER_BASIC_AUTH"]
    for name in stack.logs:
        text = stack.log_text(name)
        for secret in secrets:
            assert secret not in text, f"a secret is in {name}'s log"


def test_the_ingestion_bridge_without_the_mqtt_password_is_refused(stack):
    from urllib.parse import urlsplit, urlunsplit

    url = urlsplit(stack.ingest_env["MQTT_URL"])
    env = dict(stack.ingest_env, MQTT_URL=urlunsplit(url._replace(netloc=f"{url.hostname}:{url.port}")),
               IOT_METRICS_PORT=str(free_port()), MQTT_CLIENT_ID=f"compose-anonymous-{os.getpid()}")
    argv = stack.services["iot-ingest"]["entrypoint"] + stack.services["iot-ingest"]["command"]
    stack.start("iot-ingest-anonymous", argv, env)
    wait_for(lambda: "refused the connection" in stack.log_text("iot-ingest-anonymous"), timeout=30,
             what="the broker to refuse the bridge")
    assert "connected to the MQTT broker" not in stack.log_text("iot-ingest-anonymous")


def test_a_worker_started_before_the_key_exists_waits_for_it(stack):
    late_file = stack.workdir / "late-secrets" / "bridge_api_key"
    env = dict(stack.worker_envs["worker-email"], ODOO_API_KEY_FILE=str(late_file), METRICS_PORT=str(free_port()),
               TMPDIR=str(stack.private_tmp("worker-email-late")))
    argv = dockerfile("worker")[0] + stack.localize(stack.services["worker-email"]["command"], "worker-email")
    argv[argv.index("-n") + 1] = "worker-email-late@%h"
    stack.start("worker-email-late", argv, env)
    wait_for(lambda: "Waiting for the bridge's API key" in stack.log_text("worker-email-late"), timeout=60,
             what="the worker to say it waits for the key")
    assert stack.healthcheck("worker-email", env).returncode != 0, "not serving before it has its key"
    late_file.parent.mkdir()
    shutil.copy(stack.volume("bridge-secrets") / "bridge_api_key", late_file)
    wait_for(lambda: stack.healthcheck("worker-email", env).returncode == 0, timeout=60, interval=0.5,
             what="the worker to start once the key is there")
    assert late_file.read_text().strip() not in stack.log_text("worker-email-late")
