"""The Prometheus and Grafana files use only metrics that the system exports (no Odoo needed); the
alert rules are valid and behave as their unit tests say (promtool, Debian's package prometheus)."""
import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from celery_bridge.worker import metrics
from celery_bridge.services import iot_ingest as ingest

REPO = Path(__file__).resolve().parents[1]
WORKER_METRICS = {"celery_tasks_total", "celery_task_duration_seconds_bucket", "celery_task_retries_total",
                  "celery_queue_length", "celery_queue_oldest_message_age_seconds", "celery_workers_active",
                  "celery_broker_connected", "celery_broker_outage_seconds", "celery_broker_reconnects_total",
                  "celery_poison_messages_total"}
ODOO_METRICS = {"smart_dairy_jobs_jobs", "smart_dairy_jobs_dead_letters_open", "smart_dairy_jobs_sla_breaches_1h",
                "smart_dairy_jobs_oldest_pending_seconds", "smart_dairy_jobs_workers_alive",
                "smart_dairy_jobs_queue_consumers", "smart_dairy_jobs_queue_paused", "smart_dairy_jobs_circuit_open",
                "smart_dairy_jobs_task_jobs_ran", "smart_dairy_jobs_task_duration_p95_seconds",
                "smart_dairy_jobs_task_soft_time_limit_seconds"}
INGEST_METRICS = {ingest.MESSAGES_METRIC + "_total", ingest.READINGS_METRIC + "_total", ingest.BACKLOG_METRIC,
                  ingest.CONNECTED_METRIC}
ODOO_SOURCE = (REPO / "addons/smart_dairy_jobs/models/smart_dairy_job_monitor.py").read_text()
ALERT_RULES = REPO / "deploy/smart_dairy_jobs_alerts.yml"
RULE_TESTS = REPO / "tests/prometheus/smart_dairy_jobs_alerts_test.yml"
# Prometheus alerts that mirror Odoo's own (smart_dairy.job.monitor._current_conditions).
MIRRORED_ALERTS = {"TaskFailureRateHigh", "TaskSlow", "CircuitOpen", "QueueWithoutConsumer"}


def odoo_default_thresholds():
    """DEFAULT_THRESHOLDS of the monitor, read from its source (no Odoo needed)."""
    for node in ast.parse(ODOO_SOURCE).body:
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ["DEFAULT_THRESHOLDS"]:
            return ast.literal_eval(node.value)
    raise AssertionError("DEFAULT_THRESHOLDS not found")


def alert_rules():
    return {rule["alert"]: rule for rule in yaml.safe_load(ALERT_RULES.read_text())["groups"][0]["rules"]}


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


def test_the_rules_that_mirror_odoo_s_alerts_use_its_default_thresholds():
    defaults, rules = odoo_default_thresholds(), alert_rules()
    assert MIRRORED_ALERTS <= set(rules)
    window = f"[{defaults['task_window_minutes']}m]"
    failures = rules["TaskFailureRateHigh"]["expr"]
    assert window in failures
    assert f"> {defaults['failure_rate_percent'] / 100:g}" in failures
    assert f">= {defaults['task_min_jobs']}" in failures
    slow = rules["TaskSlow"]["expr"]
    assert f"> {defaults['p95_time_limit_percent'] / 100:g}" in slow and f">= {defaults['task_min_jobs']}" in slow
    assert rules["QueueWithoutConsumer"]["for"] == f"{defaults['queue_without_consumer_minutes']}m"


def test_every_mirrored_rule_has_a_unit_test():
    tested = {case["alertname"] for group in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in group["alert_rule_test"] if case.get("exp_alerts")}
    assert MIRRORED_ALERTS <= tested, MIRRORED_ALERTS - tested


def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


def test_promtool_accepts_the_rules():
    result = subprocess.run([promtool(), "check", "rules", str(ALERT_RULES)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_as_their_unit_tests_expect():
    result = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
