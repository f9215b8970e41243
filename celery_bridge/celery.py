"""The workers' Celery app: ``celery -A celery_bridge worker``."""
from .app_factory import TASK_MODULES, make_app
from .config import load_settings

settings = load_settings()
app = make_app(settings, include=TASK_MODULES)
