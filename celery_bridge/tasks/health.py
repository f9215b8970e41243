"""Diagnostic tasks: is a worker there, and does a failure reach Odoo?"""
import os
import socket
import time
from datetime import datetime, timezone

from celery.exceptions import SoftTimeLimitExceeded

from celery_bridge.core import errors
from celery_bridge.worker import runtime
from celery_bridge.celery import app
from celery_bridge.core.config import diagnostics_dir

_DIAGNOSTIC_ERRORS = {
    errors.NETWORK_TIMEOUT: errors.NetworkTimeout,
    errors.DATABASE_LOCK: errors.DatabaseLock,
    errors.RATE_LIMITED: errors.RateLimited,
    errors.VALIDATION: errors.InvalidInput,
    errors.PERMISSION: errors.PermissionDenied,
    errors.NOT_FOUND: errors.NotFound,
    errors.INTERNAL: errors.JobError,
}


@app.task(bind=True, name="smart_dairy.health.ping")
def ping(self):
    """Answer with the worker's hostname and time, and what the jobs it waited for returned (if any):
    a chain or chord ending in a ping shows what reached it."""
    answer = {
        "hostname": socket.gethostname(),
        "worker": self.request.hostname,
        "time": datetime.now(timezone.utc).isoformat(),
    }
    context = self.job_context
    if context is not None and context.dependency_results:
        answer["dependency_results"] = list(context.dependency_results)
    return answer


@app.task(bind=True, name="smart_dairy.health.fail")
def fail(self, error_type=errors.INTERNAL, message="diagnostic failure", **context):
    """Raise the error asked for, to check how failures and retries reach Odoo.

    ``context`` is ignored: it lets a test pass arguments (secrets, say) and see how they are shown.
    """
    error_class = _DIAGNOSTIC_ERRORS.get(error_type)
    if error_class is None:
        raise errors.InvalidInput(f"unknown error type {error_type!r}")
    raise error_class(message)


@app.task(bind=True, name="smart_dairy.health.sleep")
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


def diagnostic_file(name):
    """The path of the diagnostics file ``name``: inside the worker's diagnostics folder, or refused.

    The schema already takes only plain names; this checks again where the name really leads
    (``..``, an absolute path, a symlink planted in the folder), so a diagnostic never reads or
    writes outside the folder the worker owns for it.
    """
    if not isinstance(name, str) or not name or os.sep in name or (os.altsep and os.altsep in name) \
            or name in (".", ".."):
        raise errors.InvalidInput(f"{name!r} is not a file name: diagnostics take a name, never a path")
    folder = diagnostics_dir(runtime.settings())
    path = os.path.realpath(os.path.join(folder, name))
    if os.path.dirname(path) != folder:
        raise errors.PermissionDenied(f"{name!r} leads outside the diagnostics folder")
    return path


@app.task(bind=True, name="smart_dairy.health.expect_file")
def expect_file(self, path):
    """Succeed once the diagnostics file ``path`` (a name) exists: a failure an admin can fix, to
    rehearse dead-letter requeues."""
    if not os.path.exists(diagnostic_file(path)):
        raise errors.NotFound(f"{path} does not exist in the diagnostics folder")
    return {"found": path}


@app.task(bind=True, name="smart_dairy.health.touch")
def touch(self, path, hold=0.0):
    """Append a line to the diagnostics file ``path`` (a name; after ``hold`` seconds): counts how
    often a job really ran."""
    target = diagnostic_file(path)
    time.sleep(float(hold))
    # O_NOFOLLOW: a symlink planted under that name after the check is refused, not followed.
    descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(f"{self.request.id}\n")
    with open(target, encoding="utf-8") as handle:
        return {"runs": sum(1 for _line in handle)}
