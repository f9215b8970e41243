"""Idempotency keys, shared: Odoo derives a job's key at dispatch (and stores it under a unique
constraint); the workers claim that key in Redis before running (celery_bridge.broker.claims).
"""
import hashlib
import json

from celery_bridge.core import protocol

SCOPES = [("global", "Global"), ("user", "Per user"), ("company", "Per company")]
DEFAULT_TTL = protocol.DEFAULT_KEY_TTL


def done_claim_floor(visibility_timeout):
    """How long a done claim must at least live: a message the broker gives back after its
    visibility timeout may still wait in the queue behind others, for as long again."""
    return 2 * int(visibility_timeout)


def canonical_arguments(args, kwargs):
    return json.dumps([args or [], kwargs or {}], sort_keys=True, separators=(",", ":"), default=str)


def make_key(task_name, args=None, kwargs=None, scope="global", user_id=None, company_id=None, key=None):
    """The scoped idempotency key of a dispatch: the caller's ``key``, or a hash of task and arguments.

    Every key lives inside its company and task: two companies (or two task types) never share a
    key, whatever they choose, so a key another company holds is never returned and never blocks.
    ``scope`` narrows further: ``global`` (= ``company``) is everyone in the company, ``user`` the
    dispatching user.
    """
    if scope not in dict(SCOPES):
        raise ValueError(f"idempotency scope must be one of {', '.join(dict(SCOPES))}, not {scope!r}")
    if company_id is None:
        raise ValueError("an idempotency key needs the company it belongs to")
    if key is None:
        key = hashlib.sha256(canonical_arguments(args, kwargs).encode()).hexdigest()[:32]
    owner = f"user-{user_id}" if scope == "user" else "all"
    return f"company-{company_id}:{task_name}:{owner}:{key}"
