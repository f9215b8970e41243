"""The workers' Celery app: ``celery -A celery_bridge worker``."""
from celery_bridge.broker.app_factory import TASK_MODULES, make_app
from celery_bridge.core.config import load_settings
from celery_bridge.worker.control import HeartbeatStep
from celery_bridge.worker import signals  # noqa: F401 - connects the worker's start, ready and stop handlers

settings = load_settings()
# Every task is an OdooJobTask (celery_bridge.worker.task), named as a string: Odoo's publisher
# (make_app without task_cls) never imports the worker.
app = make_app(settings, include=TASK_MODULES, task_cls="celery_bridge.worker.task:OdooJobTask")
# The worker's pulse to Odoo (paused queues, rate limits, held jobs) runs with its consumer.
app.steps["consumer"].add(HeartbeatStep)
