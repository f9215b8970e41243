"""Job messages signed by Odoo, checked by the workers: a broker client without the secret cannot
start a task, nor make a real job's message say another company, user, task or arguments.

HMAC-SHA256 (the standard library's ``hmac``) over everything a worker trusts in a message: task name,
job uuid, arguments, attempt, idempotency key, company and user, and the results of the jobs it waited for
(only when it waited for some: a message without dependencies is signed as before them). Celery's own message signing
(``task_serializer='auth'``) signs the body only — not the headers that carry our company and user —
and needs a certificate per publisher; see README › Security › Broker trust.

``JOB_SIGNING_SECRET`` holds one secret, or several separated by commas while they are rotated: Odoo
signs with the first, workers accept any. Plain Python, shared by Odoo and the workers.
"""
import hashlib
import hmac
import json

from celery_bridge.core import protocol

HEADER = protocol.SIGNATURE_HEADER  # the message header carrying the signature


def secrets_of(setting):
    return [part.strip() for part in (setting or "").split(",") if part.strip()]


def _payload(task_name, uuid, args, kwargs, attempt, key, company_id, user_id, dependency_results=None):
    signed = [task_name, uuid, list(args or []), dict(kwargs or {}), attempt, key, company_id, user_id]
    if dependency_results is not None:
        signed.append(dependency_results)
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sign(secret, task_name, uuid, args, kwargs, attempt, key, company_id, user_id, dependency_results=None):
    payload = _payload(task_name, uuid, args, kwargs, attempt, key, company_id, user_id, dependency_results)
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def problem(secrets, signature, task_name, uuid, args, kwargs, attempt, key, company_id, user_id,
            dependency_results=None):
    """Why a message must not run (its signature is missing or does not match), or None."""
    if not signature or not isinstance(signature, str):
        return "the message is not signed"
    payload = _payload(task_name, uuid, args, kwargs, attempt, key, company_id, user_id, dependency_results)
    for secret in secrets:
        if hmac.compare_digest(hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest(), signature):
            return None
    return "the message's signature does not match"
