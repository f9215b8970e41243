"""The workers' Celery app: ``celery -A celery_bridge worker``."""
from celery_bridge.worker import metrics  # noqa: F401 - first: Prometheus must know its multiprocess directory before anything else
from celery_bridge.broker.app_factory import TASK_MODULES, make_app
from celery_bridge.core.config import load_settings

settings = load_settings()
app = make_app(settings, include=TASK_MODULES)
