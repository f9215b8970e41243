"""The sample configuration and the production compose file stay usable (no Odoo needed)."""
import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from celery_bridge.config import load_settings

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
    env = dict(os.environ, POSTGRES_PASSWORD="x", ODOO_API_KEY="y", FLOWER_BASIC_AUTH="a:b")
    result = subprocess.run(_compose_command() + ["config", "--services"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert {"odoo", "db", "redis", "flower", "worker-general", "worker-iot", "worker-email", "worker-report",
            "worker-payment", "mosquitto", "iot-ingest"} <= services


@pytest.mark.skipif(_compose_command() is None, reason="neither docker compose nor docker-compose is installed")
def test_compose_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_PASSWORD", "ODOO_API_KEY", "FLOWER_BASIC_AUTH")}
    result = subprocess.run(_compose_command() + ["config", "-q"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "ODOO_API_KEY" in result.stderr or "FLOWER" in result.stderr
