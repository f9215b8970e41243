"""Argument schemas of the task types: what each task takes, checked twice with the same schema —
by Odoo at dispatch (a clean fault, nothing written) and by the worker before it runs (a message that
does not fit is refused as invalid input, never run).

Schemas are JSON Schema (draft 2020-12) documents checked with the ``jsonschema`` library; each
domain module (``jobs``, ``iot``, ``operations``) registers its tasks' schemas with :func:`register`.
A schema describes one call as ``{"args": [...], "kwargs": {...}}``: use :func:`call_schema` to build
one from the positional and keyword parameters.

Plain Python: imported by the Odoo addons and by the workers alike, it imports neither Celery nor Redis.
"""
import json
import re

import jsonschema
from email_validator import EmailNotValidError, validate_email

from celery_bridge.core import limits
from celery_bridge.core.scrub import is_secret_key

_SCHEMAS = {}
_VALIDATORS = {}

# E.164-like: an optional +, then 8 to 15 digits (spaces and dashes allowed between them).
PHONE = re.compile(r"\+?\d(?:[ -]?\d){7,14}")

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("email", raises=EmailNotValidError)
def is_email(value):
    """A deliverable-looking address (syntax only: no DNS), with no CR/LF or header tricks."""
    if not isinstance(value, str):
        return True  # "type" reports a non-string
    # Syntax only (no DNS lookups at dispatch); intranet domains such as "localhost" are the dairy's own choice.
    validate_email(value, check_deliverability=False, globally_deliverable=False, test_environment=True)
    return True


@FORMATS.checks("phone")
def is_phone(value):
    if not isinstance(value, str):
        return True
    return bool(PHONE.fullmatch(value.strip()))


class ArgumentError(ValueError):
    """The arguments do not fit the task's schema; the message says where and why."""


def call_schema(positional=(), keyword=None, required=(), additional_kwargs=False):
    """The schema of one call: ``positional`` is a list of (name, schema) in order, ``keyword`` a
    dict name → schema of parameters that may also be given by name; ``required`` names parameters
    that must be given (positionally or by name)."""
    keyword = dict(keyword or {})
    names = [name for name, _schema in positional]
    for name, schema in positional:
        keyword.setdefault(name, schema)
    return {
        "type": "object",
        "properties": {
            "args": ({"type": "array", "prefixItems": [schema for _name, schema in positional], "items": False}
                     if positional else {"type": "array", "maxItems": 0}),
            "kwargs": {"type": "object", "properties": keyword,
                       "additionalProperties": additional_kwargs},
        },
        "x-positional": names,
        "x-required": list(required),
    }


def register(task_name, schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    _SCHEMAS[task_name] = schema
    _VALIDATORS[task_name] = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def known(task_name):
    _load_domains()
    return task_name in _SCHEMAS


def schema_of(task_name):
    _load_domains()
    return _SCHEMAS.get(task_name)


def _where(error):
    path = list(error.absolute_path)
    if not path:
        return "the arguments"
    if path[0] == "args" and len(path) > 1:
        head = f"argument {path[1] + 1}"
        rest = path[2:]
    elif path[0] == "kwargs" and len(path) > 1:
        head = repr(path[1])
        rest = path[2:]
    else:
        head, rest = str(path[0]), path[1:]
    return head + "".join(f"[{step!r}]" for step in rest)


def _describe(error):
    if any(is_secret_key(str(step)) for step in error.absolute_path):
        # jsonschema's message quotes the value: never a secret's, which would reach the job's error.
        return f"{_where(error)}: does not fit its schema ({error.validator})"
    if error.validator == "additionalProperties" and list(error.absolute_path) == ["kwargs"]:
        return error.message.replace("Additional properties are not allowed", "unknown keyword argument(s)")
    if error.validator in ("items", "maxItems") and list(error.absolute_path) == ["args"]:
        return "too many positional arguments"
    if error.validator == "format":
        return f"{_where(error)}: {error.instance!r} is not a valid {error.validator_value}"
    message = error.message
    if len(message) > 300:
        message = message[:300] + "…"
    return f"{_where(error)}: {message}"


def arguments_size(args, kwargs):
    return len(json.dumps([args, kwargs], separators=(",", ":"), ensure_ascii=False).encode())


def check_size(args, kwargs):
    size = arguments_size(args, kwargs)
    if size > limits.MAX_ARGUMENTS_BYTES:
        raise ArgumentError(f"the arguments take {size:,} bytes as JSON; at most {limits.MAX_ARGUMENTS_BYTES:,} "
                            "are accepted")


def check_call(task_name, args, kwargs):
    """Raise :class:`ArgumentError` unless ``args``/``kwargs`` fit ``task_name``'s schema and the size
    limit. A task without a schema (another addon's, say) is held to the size limit only."""
    args = list(args or [])
    kwargs = dict(kwargs or {})
    check_size(args, kwargs)
    _load_domains()
    validator = _VALIDATORS.get(task_name)
    if validator is None:
        return
    schema = _SCHEMAS[task_name]
    positional = schema.get("x-positional", [])
    given_twice = sorted(set(positional[:len(args)]) & set(kwargs))
    if given_twice:
        raise ArgumentError(f"{', '.join(given_twice)} given both by position and by name")
    missing = [name for name in schema.get("x-required", [])
               if name not in kwargs and (name not in positional or positional.index(name) >= len(args))]
    if missing:
        raise ArgumentError(f"missing required argument(s): {', '.join(missing)}")
    error = jsonschema.exceptions.best_match(validator.iter_errors({"args": args, "kwargs": kwargs}))
    if error is not None:
        raise ArgumentError(_describe(error))


_loaded = False


def _load_domains():
    global _loaded
    if not _loaded:
        _loaded = True
        from celery_bridge.core.schemas import iot, jobs, operations  # noqa: F401 - they register their schemas
