"""Diagnostic tasks: is a worker there, and does a failure reach Odoo?"""
import os
import socket
import time
from datetime import datetime, timezone

from celery.exceptions import SoftTimeLimitExceeded

from .. import errors
from ..base import OdooJobTask
from ..celery import app

_DIAGNOSTIC_ERRORS = {
    errors.NETWORK_TIMEOUT: errors.NetworkTimeout,
    errors.DATABASE_LOCK: errors.DatabaseLock,
    errors.RATE_LIMITED: errors.RateLimited,
    errors.VALIDATION: errors.InvalidInput,
    errors.PERMISSION: errors.PermissionDenied,
    errors.NOT_FOUND: errors.NotFound,
    errors.INTERNAL: errors.JobError,
}


@app.task(base=OdooJobTask, bind=True, name="smart_dairy.health.ping")
def ping(self):
    """Answer with the worker's hostname and time."""
    return {
        "hostname": socket.gethostname(),
        "worker": self.request.hostname,
        "time": datetime.now(timezone.utc).isoformat(),
    }


@app.task(base=OdooJobTask, bind=True, name="smart_dairy.health.fail")
def fail(self, error_type=errors.INTERNAL, message="diagnostic failure", **context):
    """Raise the error asked for, to check how failures and retries reach Odoo.

    ``context`` is ignored: it lets a test pass arguments (secrets, say) and see how they are shown.
    """
    error_class = _DIAGNOSTIC_ERRORS.get(error_type)
    if error_class is None:
        raise errors.InvalidInput(f"unknown error type {error_type!r}")
    raise error_class(message)


@app.task(base=OdooJobTask, bind=True, name="smart_dairy.health.sleep")
def sleep(self, seconds=1.0, ignore_soft_limit=False):
    """Sleep, to check time limits; ``ignore_soft_limit`` keeps going until the hard limit kills it."""
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        except SoftTimeLimitExceeded:
            if not ignore_soft_limit:
                raise
    return {"slept": seconds}


@app.task(base=OdooJobTask, bind=True, name="smart_dairy.health.expect_file")
def expect_file(self, path):
    """Succeed once ``path`` exists: a failure an admin can fix, to rehearse dead-letter requeues."""
    if not os.path.exists(path):
        raise errors.NotFound(f"{path} does not exist")
    return {"found": path}


@app.task(base=OdooJobTask, bind=True, name="smart_dairy.health.touch")
def touch(self, path, hold=0.0):
    """Append a line to ``path`` (after ``hold`` seconds): counts how often a job really ran."""
    time.sleep(float(hold))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{self.request.id}\n")
    with open(path, encoding="utf-8") as handle:
        return {"runs": sum(1 for _line in handle)}
