"""HTTP calls to outside services (SMS provider, payment gateways), failing with the bridge's typed errors.

Messages name the step and the HTTP status only: request and reply bodies may hold credentials or
tokens, so they never go into an exception. Causes are dropped (``from None``) for the same reason.
"""
import email.utils
import time

import requests

from celery_bridge.core import errors


def request(session, method, url, *, what, timeout, **kwargs):
    """``session.request(...)``; no reply or no connection is a ``NetworkTimeout`` (worth retrying)."""
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise errors.NetworkTimeout(f"{what}: no reply within {timeout:g} s") from None
    except requests.ConnectionError:
        raise errors.NetworkTimeout(f"{what}: cannot connect") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise errors.JobError(f"{what}: the configured URL is not usable") from None
    except requests.RequestException as exc:
        raise errors.NetworkTimeout(f"{what}: {type(exc).__name__}") from None


def raise_for_status(response, what):
    """Turn an HTTP error status into the typed error that decides whether the job is retried."""
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raise errors.RateLimited(f"{what}: HTTP 429", retry_after=retry_after_seconds(response))
    if status in (401, 403):
        raise errors.PermissionDenied(f"{what}: HTTP {status}, credentials refused")
    if status >= 500:  # 503 with Retry-After: down for maintenance, back at the time it says
        raise errors.NetworkTimeout(f"{what}: HTTP {status}", retry_after=retry_after_seconds(response))
    raise errors.Refused(f"{what}: HTTP {status}")


def json_body(response, what, error_class=errors.JobError):
    """The reply's JSON object; anything else raises ``error_class``.

    Payment adapters pass ``NetworkTimeout``: an unreadable reply leaves it open whether the charge
    happened, and a retry asks the gateway first. The SMS adapter passes ``UnexpectedReply`` (never
    retried), as sending again could deliver the text twice.
    """
    try:
        body = response.json()
    except ValueError:
        raise error_class(f"{what}: the reply is not JSON (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise error_class(f"{what}: the reply is not a JSON object")
    return body


def retry_after_seconds(response, now=None):
    """Seconds asked for by a ``Retry-After`` header (seconds or an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
