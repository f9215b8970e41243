"""Schemas of the tasks smart_dairy_jobs ships: diagnostics and maintenance."""
from celery_bridge.core import errors
from celery_bridge.core.schemas import call_schema, register
from celery_bridge.core.schemas._types import FILE_NAME, integer, number, optional, text

DIAGNOSTIC_ERRORS = [errors.NETWORK_TIMEOUT, errors.DATABASE_LOCK, errors.RATE_LIMITED, errors.VALIDATION,
                     errors.PERMISSION, errors.NOT_FOUND, errors.INTERNAL]

register("smart_dairy.health.ping", call_schema())
register("smart_dairy.health.fail", call_schema(
    [("error_type", {"enum": DIAGNOSTIC_ERRORS}), ("message", text(1000))],
    # Extra keyword arguments are ignored by the task: tests pass secrets to see how they are shown.
    additional_kwargs=text(1000),
))
register("smart_dairy.health.sleep", call_schema(
    [("seconds", number(0, 3600)), ("ignore_soft_limit", {"type": "boolean"})]))
# Diagnostics touch files only inside the worker's own diagnostics folder: a name, never a path.
register("smart_dairy.health.expect_file", call_schema([("path", FILE_NAME)], required=["path"]))
register("smart_dairy.health.touch", call_schema(
    [("path", FILE_NAME), ("hold", number(0, 600))], required=["path"]))

register("smart_dairy.maintenance.cleanup_old_data", call_schema(
    [("days_to_keep", integer(1, 36500)), ("batch_size", integer(1, 10000))]))
register("smart_dairy.maintenance.backup_database", call_schema([("keep", optional(integer(1, 365)))]))
