"""A job as the worker sees it: its context from the message headers (uuid, attempt, claim key,
lease, external service, company, user, the results of the jobs it waited for), and the ways a
message ends without running its task.

Tasks dispatched by Odoo carry these headers; tasks sent by plain Celery code carry none and run as
ordinary Celery tasks, reporting nothing (unless signing is on: then they do not run at all).
"""
from typing import NamedTuple, Optional

from celery_bridge.core import protocol, signing
from celery_bridge.core.protocol import ATTEMPT_HEADER, COMPANY_HEADER, KEY_HEADER, USER_HEADER
from celery_bridge.worker import runtime


def header(request, name):
    """A header of the request's message (Celery puts custom headers on the request, or under ``headers``)."""
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def int_or_none(value):
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class JobContext(NamedTuple):
    uuid: str
    attempt: int
    key: str
    key_ttl: int
    lease: int
    service: Optional[str]
    company_id: Optional[int]  # the job's company: every read and write of Odoo data is limited to it
    user_id: Optional[int]  # who dispatched the job
    # What the jobs it waited for returned, in the order they were dispatched (a chain's previous step, a
    # chord's group): dicts {"job_id", "uuid", "task_name", "result"}, or "truncated": true and the "size"
    # of a result too large to carry (celery_bridge.core.flows.dependency_results). Empty without dependencies.
    dependency_results: tuple = ()


def job_context(request):
    """The Odoo job a request runs, or None for a plain Celery call."""
    attempt = header(request, ATTEMPT_HEADER)
    if attempt is None:
        return None
    return JobContext(
        uuid=request.id,
        attempt=int(attempt),
        key=header(request, KEY_HEADER) or f"job:{request.id}",
        key_ttl=int(header(request, protocol.KEY_TTL_HEADER) or protocol.DEFAULT_KEY_TTL),
        lease=int(header(request, protocol.LEASE_HEADER) or protocol.DEFAULT_LEASE),
        service=header(request, protocol.SERVICE_HEADER) or None,
        company_id=int_or_none(header(request, COMPANY_HEADER)),
        user_id=int_or_none(header(request, USER_HEADER)),
        dependency_results=dependency_results(request),
    )


def dependency_results(request):
    """The dependency results of a request's message (signed with it), as a tuple of dicts."""
    value = header(request, protocol.DEPENDENCY_RESULTS_HEADER)
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(entry for entry in value if isinstance(entry, dict))


class Deferred(Exception):
    """The job did not run and should be tried again later, without counting as a retry."""

    def __init__(self, reason, retry_in):
        super().__init__(reason)
        self.retry_in = retry_in

    def __reduce__(self):  # Celery pickles exceptions; keep retry_in across
        return type(self), (self.args[0], self.retry_in)


class DuplicateDelivery(Exception):
    """Another process is running this very job: this copy of the message is dropped."""


class ForgedMessage(Exception):
    """The message is not signed by Odoo: it is not run, and nothing about it is reported (its headers
    cannot be trusted to name a real job)."""


def forgery(task_name, request, args, kwargs):
    """Why a message must not run under signing (``JOB_SIGNING_SECRET`` set), or None."""
    secrets = signing.secrets_of(runtime.settings().job_signing_secret)
    if not secrets:
        return None
    return signing.problem(
        secrets, header(request, signing.HEADER), task_name, request.id, args, kwargs,
        int_or_none(header(request, ATTEMPT_HEADER)), header(request, KEY_HEADER),
        int_or_none(header(request, COMPANY_HEADER)), int_or_none(header(request, USER_HEADER)),
        header(request, protocol.DEPENDENCY_RESULTS_HEADER))
