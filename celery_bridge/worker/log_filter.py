"""Secrets never reach the worker's log.

A job's arguments may hold secrets (a gateway password, an API key). Celery logs a message's whole
body and headers (whose argsrepr/kwargsrepr repeat the arguments) when it cannot run it: an unknown
task, an invalid or undecodable message. The consumer (worker.consumer) handles those messages without
logging their content; HideJobArguments, on Celery's loggers and on every handler the worker sets up
(worker.signals), is the net under it for any other record that carries a job's arguments (the
received/succeeded/failed lines' context, the pool's debug line).
"""
import logging

from celery_bridge.core.scrub import MASK

# Celery's templates that print a message's body or headers: replaced by a line without them.
_BODY_TEMPLATES = ("The full contents of the message body", "Can't decode message body")
_ARGUMENT_FIELDS = ("args", "kwargs", "argsrepr", "kwargsrepr", "body", "headers")


class HideJobArguments(logging.Filter):
    """Masks a job's arguments and message body in Celery's log records (never drops a record)."""

    def filter(self, record):
        message = record.msg if isinstance(record.msg, str) else ""
        if any(template in message for template in _BODY_TEMPLATES):
            first_line = message.strip().splitlines()[0].split("%")[0].strip()
            record.msg, record.args = "%s (message content not logged)", (first_line,)
            record.exc_info = record.exc_text = None
        elif message.startswith("TaskPool: Apply") and isinstance(record.args, tuple) and record.args:
            record.args = (record.args[0],) + (MASK,) * (len(record.args) - 1)
        elif isinstance(record.args, dict):
            record.args = self._masked(record.args)
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            record.data = self._masked(data)
        return True

    @staticmethod
    def _masked(context):
        return {key: MASK if key in _ARGUMENT_FIELDS and value not in (None, "") else value
                for key, value in context.items()}


HIDE_JOB_ARGUMENTS = HideJobArguments()
CELERY_LOGGERS = ("celery", "celery.worker.strategy", "celery.app.trace", "celery.pool", "celery.worker.request",
                  "celery.worker.consumer.consumer", "celery.worker.consumer", "celery.redirected", "kombu")


def install_log_filter(*loggers):
    """The filter on ``loggers`` (default: Celery's) and on each of their handlers."""
    for logger in loggers or [logging.getLogger(name) for name in CELERY_LOGGERS]:
        if HIDE_JOB_ARGUMENTS not in logger.filters:
            logger.addFilter(HIDE_JOB_ARGUMENTS)
        for handler in logger.handlers:
            if HIDE_JOB_ARGUMENTS not in handler.filters:
                handler.addFilter(HIDE_JOB_ARGUMENTS)
