"""The sample configuration and the production compose file stay usable (no Odoo needed)."""
import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from celery_bridge.core.config import load_settings

REPO = Path(__file__).resolve().parents[1]
# What docker-compose.yml refuses to start without (the bridge's API key is not among them: odoo-init issues it).
SECRET_NAMES = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "JOB_SIGNING_SECRET", "ODOO_ADMIN_PASSWORD",
                "MQTT_INGEST_PASSWORD", "MQTT_DEVICE_PASSWORD", "FLOWER_BASIC_AUTH")
DUMMY_SECRETS = {name: f"dummy-{name.lower().replace('_', '-')}" for name in SECRET_NAMES} | {"FLOWER_BASIC_AUTH": "a:b"}


def test_sample_odoo_conf_configures_odoo_queue_job_and_the_bridge():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "odoo.conf")
    assert "queue_job" in parser["options"]["server_wide_modules"].split(",")
    assert parser["queue_job"]["channels"]
    settings = load_settings({"ODOO_RC": str(REPO / "odoo.conf")})
    assert settings.celery_broker_url == "redis://127.0.0.1:6379/0"
    assert settings.odoo_login == "smart_dairy_jobs_bridge"
    assert not settings.odoo_api_key, "no secret in the sample"


def _compose_command():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="neither docker compose nor docker-compose is installed")
def test_compose_file_parses_with_every_worker_pool():
    env = dict(os.environ, **DUMMY_SECRETS)
    result = subprocess.run(_compose_command() + ["config", "--services"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert {"odoo", "odoo-init", "proxy", "db", "redis", "flower", "worker-general", "worker-maintenance",
            "worker-iot", "worker-email", "worker-report", "worker-payment", "mosquitto", "iot-ingest"} <= services


@pytest.mark.skipif(_compose_command() is None, reason="neither docker compose nor docker-compose is installed")
def test_compose_refuses_to_start_without_any_of_its_secrets():
    for missing in SECRET_NAMES:
        env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES} | {
            name: value for name, value in DUMMY_SECRETS.items() if name != missing}
        result = subprocess.run(_compose_command() + ["config", "-q"], cwd=REPO, env=env, capture_output=True,
                                text=True)
        assert result.returncode != 0, f"compose starts without {missing}"
        assert missing in result.stderr, (missing, result.stderr)


def _raw_compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _broker_urls(compose):
    """Every redis:// URL any service is given, with the service's name."""
    found = []
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if isinstance(value, str) and value.startswith("redis://"):
                found.append((name, key, value))
    return found


def test_redis_asks_for_a_password_and_is_not_published():
    redis = _raw_compose()["services"]["redis"]
    command = redis["command"]
    assert "--requirepass" in command
    password = command[command.index("--requirepass") + 1]
    assert password.startswith("${REDIS_PASSWORD:?"), "compose refuses to start without a password"
    assert "ports" not in redis, "the broker is reachable only on the compose network"


def test_every_broker_url_carries_the_redis_password():
    compose = _raw_compose()
    urls = _broker_urls(compose)
    names = {name for name, _key, _value in urls}
    # the anchor's environment is merged into every worker and the ingestion bridge
    assert {"odoo", "flower"} <= names and compose["x-worker"]["environment"]["CELERY_BROKER_URL"]
    for name, key, value in urls + [("x-worker", k, v) for k, v in compose["x-worker"]["environment"].items()
                                    if isinstance(v, str) and v.startswith("redis://")]:
        assert value.startswith("redis://:${REDIS_PASSWORD}@redis:6379/"), (name, key, value)


@pytest.mark.skipif(_compose_command() is None, reason="neither docker compose nor docker-compose is installed")
def test_resolved_compose_gives_every_redis_client_the_password():
    env = dict(os.environ, **DUMMY_SECRETS) | {"REDIS_PASSWORD": "broker-pw-1"}
    result = subprocess.run(_compose_command() + ["config"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert "broker-pw-1" in services["redis"]["command"]
    assert not services["redis"].get("ports")
    clients = {name for name, service in services.items()
               if any(str(value).startswith("redis://") for value in (service.get("environment") or {}).values())}
    assert {"odoo", "odoo-init", "flower", "worker-general", "worker-maintenance", "worker-iot", "worker-email",
            "worker-report", "worker-payment", "iot-ingest"} <= clients
    for name in clients:
        for key, value in services[name]["environment"].items():
            if str(value).startswith("redis://"):
                assert value.startswith("redis://:broker-pw-1@redis:6379/"), (name, key, value)


def test_odoo_and_every_worker_share_the_signing_secret():
    """Workers run only messages Odoo signed: both sides get JOB_SIGNING_SECRET, and compose refuses to
    start without it."""
    compose = _raw_compose()
    for where in (compose["x-worker"]["environment"], compose["services"]["odoo"]["environment"]):
        assert where["JOB_SIGNING_SECRET"].startswith("${JOB_SIGNING_SECRET:?"), where


def test_workers_have_a_health_check_and_the_ingestion_bridge_has_its_own():
    compose = _raw_compose()
    assert compose["x-worker"]["healthcheck"]["test"] == ["CMD", "sdj-worker-healthcheck"]
    ingest = compose["services"]["iot-ingest"]["healthcheck"]["test"]
    assert "smart_dairy_iot_mqtt_connected" in " ".join(ingest), "connected to the MQTT broker, by its metrics"


def test_workers_read_the_bridge_key_from_the_file_odoo_init_writes():
    compose = _raw_compose()
    assert "ODOO_API_KEY" not in compose["x-worker"]["environment"]
    key_file = compose["x-worker"]["environment"]["ODOO_API_KEY_FILE"]
    assert key_file in " ".join(compose["services"]["odoo-init"]["command"])
    assert "bridge-secrets:/run/smart-dairy:ro" in compose["x-worker"]["volumes"]
    assert "bridge-secrets:/run/smart-dairy" in compose["services"]["odoo-init"]["volumes"]
