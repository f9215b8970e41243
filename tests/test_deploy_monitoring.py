"""The Prometheus and Grafana files use only metrics that the system exports (no Odoo needed)."""
import json
import re
from pathlib import Path

import yaml

from celery_bridge.worker import metrics
from celery_bridge.services import iot_ingest as ingest

REPO = Path(__file__).resolve().parents[1]
WORKER_METRICS = {"celery_tasks_total", "celery_task_duration_seconds_bucket", "celery_task_retries_total",
                  "celery_queue_length", "celery_queue_oldest_message_age_seconds", "celery_workers_active",
                  "celery_broker_connected", "celery_broker_outage_seconds", "celery_broker_reconnects_total",
                  "celery_poison_messages_total"}
ODOO_METRICS = {"smart_dairy_jobs_jobs", "smart_dairy_jobs_dead_letters_open", "smart_dairy_jobs_sla_breaches_1h",
                "smart_dairy_jobs_oldest_pending_seconds", "smart_dairy_jobs_workers_alive"}
INGEST_METRICS = {ingest.MESSAGES_METRIC + "_total", ingest.READINGS_METRIC + "_total", ingest.BACKLOG_METRIC,
                  ingest.CONNECTED_METRIC}
ODOO_SOURCE = (REPO / "addons/smart_dairy_jobs/models/smart_dairy_job_monitor.py").read_text()


def metric_names(expression):
    return set(re.findall(r"\b((?:celery|smart_dairy_jobs|smart_dairy_iot)_[a-z_0-9]+)", expression))


def test_the_exported_names_are_the_ones_the_files_know():
    assert metrics.TASKS_TOTAL._name == "celery_tasks"  # prometheus-client adds _total itself
    assert metrics.TASK_DURATION._name == "celery_task_duration_seconds"
    assert list(metrics.TASK_DURATION._upper_bounds[:-1]) == list(metrics.BUCKETS)
    for name in ODOO_METRICS:
        assert f'"{name}"' in ODOO_SOURCE, name


def test_grafana_dashboard_queries_only_exported_metrics():
    dashboard = json.loads((REPO / "deploy/grafana-dashboard.json").read_text())
    used = set().union(*(metric_names(t["expr"]) for p in dashboard["panels"] for t in p["targets"]))
    assert used and used <= WORKER_METRICS | ODOO_METRICS, used - WORKER_METRICS - ODOO_METRICS


def test_prometheus_config_scrapes_workers_and_odoo_with_a_token():
    config = yaml.safe_load((REPO / "deploy/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["smart_dairy_odoo"]["metrics_path"] == "/smart_dairy_jobs/metrics"
    assert jobs["smart_dairy_odoo"]["authorization"]["type"] == "Bearer"
    alerts = yaml.safe_load((REPO / "deploy/smart_dairy_jobs_alerts.yml").read_text())
    used = set().union(*(metric_names(rule["expr"]) for rule in alerts["groups"][0]["rules"]))
    assert used <= WORKER_METRICS | ODOO_METRICS | INGEST_METRICS, used - WORKER_METRICS - ODOO_METRICS - INGEST_METRICS
    assert INGEST_METRICS & used
    assert "iot-ingest:9809" in jobs["smart_dairy_iot_ingest"]["static_configs"][0]["targets"]
