"""Publishing job messages to the broker, for the Odoo side.

A message names the task, its arguments and the job's uuid (the Celery task id) and attempt number;
never a credential: workers hold their own API key.
"""
import logging
import time
from typing import NamedTuple

from celery.utils.saferepr import saferepr

from celery_bridge.core import protocol, signing
from celery_bridge.broker.app_factory import make_app
from celery_bridge.broker.rate_limits import GlobalRateLimits
from celery_bridge.broker.redis_state import redis_client
from celery_bridge.core.protocol import (
    ATTEMPT_HEADER, COMPANY_HEADER, KEY_HEADER, KEY_TTL_HEADER, LEASE_HEADER, PAUSE_QUEUES_COMMAND,
    RESUME_QUEUES_COMMAND, SENT_AT_HEADER, SERVICE_HEADER, USER_HEADER,
)
from celery_bridge.core.scrub import scrub

_logger = logging.getLogger(__name__)

_apps = {}


class Outgoing(NamedTuple):
    uuid: str
    task_name: str
    queue: str
    priority: int
    args: list
    kwargs: dict
    attempt: int
    soft_time_limit: int = None
    time_limit: int = None
    key: str = None  # idempotency key; None: the job's own uuid
    key_ttl: int = protocol.DEFAULT_KEY_TTL
    lease: int = protocol.DEFAULT_LEASE
    service: str = None  # external service whose circuit breaker guards the task
    company_id: int = None  # the job's company: the worker's reach into Odoo data
    user_id: int = None  # who dispatched it: the worker acts for them
    compression: str = None  # "gzip": the body is compressed on the broker (B-009 §8.1); kombu decompresses
    dependency_results: list = None  # what the jobs it waited for returned (core.flows.dependency_results)


def publisher_app(settings):
    """One Celery app per broker and process, kept for its connection pool."""
    key = (settings.celery_broker_url, settings.publish_timeout)
    app = _apps.get(key)
    if app is None:
        app = _apps[key] = make_app(settings, current=False)
        # One connection attempt, bounded by the connect timeout: kombu would otherwise try again
        # every 2 s until the connect timeout is spent, keeping an Odoo request waiting twice as long.
        app.conf.broker_transport_options = dict(app.conf.broker_transport_options, max_retries=0)
    return app


# A retry with less time left than this would only be a connection refused by its own timeout.
MIN_RETRY_TIME = 0.05


def publish(settings, messages, deadline=None):
    """Send ``messages``; return the uuids that reached the broker.

    The whole call waits for the broker until ``deadline`` at most (a ``time.monotonic()`` value;
    default: PUBLISH_TIMEOUT from now), so an Odoo request never waits longer than that for a broker
    that is away. On a broker error it tries once more on a fresh connection (a pooled one may
    predate a broker restart), within the time left; what was not sent stays pending in Odoo for
    the sweeper, so an outage is a delay, never a loss.
    """
    sent = []
    if not messages:
        return sent
    if deadline is None:
        deadline = time.monotonic() + settings.publish_timeout
    try:
        _attempt(settings, messages, sent, deadline)
    except Exception as exc:  # noqa: BLE001 - a pooled connection may predate a broker restart
        # A closed pool cannot be reopened: drop the whole app, the next publish builds a new one.
        _apps.pop((settings.celery_broker_url, settings.publish_timeout), None)
        if deadline - time.monotonic() < MIN_RETRY_TIME:
            _logger.warning("Broker unreachable after sending %d of %d job(s), publish timeout spent; the rest "
                            "stay pending: %s", len(sent), len(messages), exc)
            return sent
        _logger.info("Publishing failed (%s); retrying once on a fresh connection", exc)
        try:
            _attempt(settings, messages[len(sent):], sent, deadline, fresh=True)
        except Exception as exc_again:  # noqa: BLE001 - any broker fault leaves the rest for the sweeper
            _logger.warning(
                "Broker unreachable after sending %d of %d job(s); the rest stay pending: %s",
                len(sent), len(messages), exc_again,
            )
    return sent


def _attempt(settings, messages, sent, deadline, fresh=False):
    """Publish on a pooled connection while the whole timeout is left, else on a connection of its
    own whose connect and socket timeouts end at ``deadline``."""
    app = publisher_app(settings)
    left = deadline - time.monotonic()
    if not fresh and left >= settings.publish_timeout - MIN_RETRY_TIME:
        with app.producer_or_acquire() as producer:
            _send(app, messages, sent, settings, producer)
        return
    if left <= 0:
        raise TimeoutError("publish timeout spent")
    timeouts = {"socket_timeout": left, "socket_connect_timeout": left, "max_retries": 0}
    with app.connection_for_write(connect_timeout=left, transport_options=timeouts) as connection:
        _send(app, messages, sent, settings, connection.Producer())


def _signature(settings, message):
    secrets = signing.secrets_of(settings.job_signing_secret)
    if not secrets:
        return None
    return signing.sign(secrets[0], message.task_name, message.uuid, message.args, message.kwargs, message.attempt,
                        message.key, message.company_id, message.user_id, message.dependency_results)


def _send(app, messages, sent, settings, producer):
    """Publish with ``producer``, appending each uuid to ``sent`` once the broker has it."""
    for message in messages:
        app.send_task(
            message.task_name,
            args=message.args,
            kwargs=message.kwargs,
            task_id=message.uuid,
            queue=message.queue,
            priority=message.priority,
            soft_time_limit=message.soft_time_limit,
            time_limit=message.time_limit,
            headers={
                ATTEMPT_HEADER: message.attempt,
                KEY_HEADER: message.key,
                KEY_TTL_HEADER: message.key_ttl,
                LEASE_HEADER: message.lease,
                SERVICE_HEADER: message.service,
                SENT_AT_HEADER: time.time(),
                COMPANY_HEADER: message.company_id,
                USER_HEADER: message.user_id,
                protocol.DEPENDENCY_RESULTS_HEADER: message.dependency_results,
                signing.HEADER: _signature(settings, message),
            },
            # Celery copies argument reprs into the headers (events, Flower, log formats): masked, and
            # cut to Celery's own 1 kB (Celery also keeps them as message properties: in full, a large
            # job's arguments were stored three times, two of them beyond any compression).
            argsrepr=saferepr(scrub(message.args), app.amqp.argsrepr_maxsize),
            kwargsrepr=saferepr(scrub(message.kwargs), app.amqp.kwargsrepr_maxsize),
            producer=producer,
            compression=message.compression,
            retry=False,
            # Odoo is the record of its jobs: their state and result come back through the
            # write-back, so the result backend's two writes per job (started, result) are waste.
            ignore_result=True,
        )
        sent.append(message.uuid)


def revoke(settings, uuids, terminate=False):
    """Tell workers to drop these tasks if they receive them; ``terminate`` also kills running ones."""
    if not uuids:
        return False
    try:
        publisher_app(settings).control.revoke(list(uuids), terminate=terminate, signal="SIGTERM")
        return True
    except Exception as exc:  # noqa: BLE001
        _logger.warning("Could not broadcast the revocation of %d job(s): %s", len(uuids), exc)
        return False


def set_consuming(settings, queues, consume):
    """Pause ``queues`` on every worker, live, or resume them on the workers started for them.

    One broadcast every worker receives and applies to its own queues (celery_bridge.worker.control):
    Celery's ``add_consumer`` would make every worker consume a resumed queue, whatever its ``-Q``,
    and a list of the workers to address would miss one started since. A worker that misses the
    broadcast catches up at its next heartbeat, whose answer lists the paused queues."""
    try:
        publisher_app(settings).control.broadcast(
            RESUME_QUEUES_COMMAND if consume else PAUSE_QUEUES_COMMAND, arguments={"queues": list(queues)})
        return True
    except Exception as exc:  # noqa: BLE001 - heartbeats reconcile the workers later
        _logger.warning("Could not broadcast a queue %s: %s", "resume" if consume else "pause", exc)
        return False


def set_rate_limit(settings, task_name, rate):
    """Change a task's rate limit, live ('' removes it): the global limit all workers' jobs share
    (celery_bridge.broker.rate_limits), and each worker's own Celery limit, kept as a safety cap.

    Broadcast on purpose: Celery's limit is per worker and task type, and holds only where the
    task runs; a worker that does not serve the task's queue keeps a limit it never uses, and one that
    does (or runs the task sent to another queue, which dispatch allows) is limited as it must be.
    What does not reach Redis or the workers now, their next heartbeat brings from Odoo.
    """
    done = True
    try:
        GlobalRateLimits(redis_client(settings.state_redis_url or settings.celery_broker_url)).set(task_name, rate)
    except Exception as exc:  # noqa: BLE001 - Redis away: the workers' heartbeats set it from Odoo's answer
        _logger.warning("Could not set the global rate limit of %s: %s", task_name, exc)
        done = False
    try:
        publisher_app(settings).control.rate_limit(task_name, rate or None)
    except Exception as exc:  # noqa: BLE001
        _logger.warning("Could not broadcast the rate limit of %s: %s", task_name, exc)
        done = False
    return done
