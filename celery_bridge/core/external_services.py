"""Which external service a job calls: the name of the circuit breaker that guards it.

A task type names its service in ``external_service``: a plain name (``smtp``, ``sms``) or a pattern
with the name of one of the task's arguments in braces, ``payment.{gateway}``, so each payment
gateway has its own circuit (bKash being down does not hold Nagad's payments back). Odoo's outbox
resolves the pattern with each job's arguments when it publishes the job; the worker reads the
resolved name from the message and asks that circuit for admission.
"""
import json
import re
import string

from celery_bridge.core import schemas

# Service names become Redis keys and rows of the Circuits view: short, plain, lower case.
NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
ARGUMENT_VALUE = re.compile(r"[a-z0-9][a-z0-9_\-]{0,31}")
# What an argument that is missing, or not a plain short name, fills in: the job still has a circuit,
# one that many values share, instead of one Redis key per value a caller chooses.
OTHER = "other"


def placeholders(pattern):
    """The argument names ``pattern`` takes in braces; ``ValueError`` if it is not a valid pattern."""
    names = []
    try:
        parsed = list(string.Formatter().parse(pattern or ""))
    except ValueError as exc:
        raise ValueError(f"{pattern!r}: {exc}") from None
    for _literal, field, format_spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or format_spec or conversion:
            raise ValueError(f"{pattern!r}: a placeholder is an argument name in braces, e.g. {{gateway}}")
        names.append(field)
    example = pattern.format(**{name: "x" for name in names}) if pattern else ""
    if pattern and not NAME.fullmatch(example):
        raise ValueError(f"{pattern!r}: a service name takes lower-case letters, digits and _ . - only")
    return names


def resolve(pattern, task_name, args, kwargs):
    """The service a call of ``task_name`` with ``args``/``kwargs`` uses, or None if ``pattern`` is empty.

    Positional arguments are named by the task's argument schema (``schemas``). Never raises: a
    pattern the task type's check would refuse (stored before it) is used as it is, one circuit."""
    if not pattern:
        return None
    try:
        names = placeholders(pattern)
    except ValueError:
        return pattern
    if not names:
        return pattern
    positional = (schemas.schema_of(task_name) or {}).get("x-positional", [])
    given = dict(zip(positional, args or []))
    given.update(kwargs or {})
    return pattern.format(**{name: _plain(given.get(name)) for name in names})


def resolve_json(pattern, task_name, args_json, kwargs_json):
    """``resolve`` for arguments stored as JSON text (a job's row); parses them only if needed."""
    if not pattern or "{" not in pattern:
        return pattern or None
    return resolve(pattern, task_name, json.loads(args_json or "[]"), json.loads(kwargs_json or "{}"))


def _plain(value):
    text = str(value).lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if ARGUMENT_VALUE.fullmatch(text) else OTHER
