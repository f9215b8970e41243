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
    env = dict(os.environ, POSTGRES_PASSWORD="x", ODOO_API_KEY="y", FLOWER_BASIC_AUTH="a:b", REDIS_PASSWORD="r",
               JOB_SIGNING_SECRET="s")
    result = subprocess.run(_compose_command() + ["config", "--services"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert {"odoo", "db", "redis", "flower", "worker-general", "worker-iot", "worker-email", "worker-report",
            "worker-payment", "mosquitto", "iot-ingest"} <= services


@pytest.mark.skipif(_compose_command() is None, reason="neither docker compose nor docker-compose is installed")
def test_compose_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in os.environ.items()
           if k not in ("POSTGRES_PASSWORD", "ODOO_API_KEY", "FLOWER_BASIC_AUTH", "REDIS_PASSWORD", "JOB_SIGNING_SECRET")}
    result = subprocess.run(_compose_command() + ["config", "-q"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "ODOO_API_KEY" in result.stderr or "FLOWER" in result.stderr


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
    env = dict(os.environ, POSTGRES_PASSWORD="x", ODOO_API_KEY="y", FLOWER_BASIC_AUTH="a:b",
               REDIS_PASSWORD="broker-pw-1", JOB_SIGNING_SECRET="s")
    result = subprocess.run(_compose_command() + ["config"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert "broker-pw-1" in services["redis"]["command"]
    assert not services["redis"].get("ports")
    clients = {name for name, service in services.items()
               if any(str(value).startswith("redis://") for value in (service.get("environment") or {}).values())}
    assert {"odoo", "flower", "worker-general", "worker-iot", "worker-email", "worker-report", "worker-payment",
            "iot-ingest"} <= clients
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


def test_workers_have_a_health_check_and_the_ingestion_bridge_does_not_inherit_it():
    compose = _raw_compose()
    assert compose["x-worker"]["healthcheck"]["test"] == ["CMD", "python", "-m", "celery_bridge.worker.healthcheck"]
    assert compose["services"]["iot-ingest"]["healthcheck"] == {"disable": True}
