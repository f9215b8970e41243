"""kombu's Redis transport, hardened against items on a queue that are not messages.

A queue is a Redis list that anyone with write access to the broker can push onto. kombu parses each
item it pops as a JSON message envelope and lets any error escape its event loop, which ends the
worker ("Unrecoverable error: JSONDecodeError"). Here an item that is not a message a worker can take
(not JSON, not an envelope, a body its own encoding cannot decode) is logged without its content,
counted (``celery_poison_messages_total``) and moved aside onto ``<queue>:poison`` (newest first, the
last ``POISON_KEEP`` items kept), where an operator may inspect it; the worker goes on with the next.

Messages that are valid envelopes but not runnable tasks (unknown task, undecodable arguments) are
Celery's concern: ``celery_bridge.worker.consumer.SecretSafeConsumer`` refuses them.

Imported by the publisher in Odoo too (the app's transport): the broker room knows nothing of the
worker's metrics; a worker counts poison items by registering a listener (``on_poison``).
"""
import logging
from queue import Empty

from kombu.transport import redis as redis_transport
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

_logger = logging.getLogger(__name__)

POISON_SUFFIX = ":poison"
POISON_KEEP = 1000  # the aside list is bounded: the broker runs with noeviction


def poison_list(queue):
    return f"{queue}{POISON_SUFFIX}"


def envelope_problem(item, channel):
    """Why the raw queue ``item`` is not a message this channel can deliver, or None (with the
    parsed envelope)."""
    try:
        payload = loads(bytes_to_str(item))
    except (ValueError, TypeError, UnicodeDecodeError):
        return "not JSON", None
    if not isinstance(payload, dict):
        return "not a message envelope", None
    properties = payload.get("properties")
    if not isinstance(properties, dict):
        return "no message properties", None
    delivery_tag = properties.get("delivery_tag")
    if not isinstance(delivery_tag, str) or not delivery_tag:
        return "no delivery tag", None
    delivery_info = properties.get("delivery_info")
    if not isinstance(delivery_info, dict) or not {"exchange", "routing_key"} <= delivery_info.keys():
        return "no delivery info", None
    headers = payload.get("headers")
    if headers is not None and not isinstance(headers, dict):
        return "headers are not a mapping", None
    try:
        # What kombu does first with every message: decode the body from its transport encoding.
        channel.Message(payload, channel=channel)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the envelope breaks kombu's delivery
        return f"the envelope cannot be read ({type(exc).__name__})", None
    return None, payload


class PoisonSafeChannel(redis_transport.Channel):
    """A Redis channel that delivers only valid message envelopes and moves anything else aside."""

    _known_connparams = None

    def _connparams(self, asynchronous=False):
        # When the broker goes away while messages are unacked, Celery closes the connection and kombu
        # closes this channel after its transport has already dropped its client: restoring the
        # unacked messages then asks where the broker is and kombu raises AttributeError, which kills
        # the worker ("Unrecoverable error"). Where the broker is has not changed: answer with what
        # this channel used before (the restore itself may fail on the unreachable broker; Celery
        # ignores connection errors there and the messages come back with the visibility timeout).
        if self.connection.client is None and self._known_connparams and asynchronous in self._known_connparams:
            return dict(self._known_connparams[asynchronous])
        params = super()._connparams(asynchronous=asynchronous)
        if self._known_connparams is None:
            self._known_connparams = {}
        self._known_connparams[asynchronous] = dict(params)
        return params

    def _brpop_read(self, **options):
        # kombu's own _brpop_read (kombu 5.7), with the envelope checked before delivery: kombu would
        # let the parse error escape; the item is already popped, so it is moved aside here.
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                # as kombu: disconnect, so that the next iteration reconnects
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            problem, payload = envelope_problem(item, self)
            if problem:
                self._move_aside(dest, item, problem)
                return True
            self.connection._deliver(payload, dest)
            return True
        finally:
            self._in_poll = None
            flush_reauth = getattr(self, "_flush_brpop_reauth", None)  # kombu >= 5.7
            if flush_reauth:
                flush_reauth()

    def _get(self, queue):
        # kombu's own _get (basic_get and the polling path), skipping items that are not messages.
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                while True:
                    item = client.rpop(self._q_for_pri(queue, pri))
                    if item is None:  # an empty string is an item (not a message), not the end
                        break
                    problem, payload = envelope_problem(item, self)
                    if problem:
                        self._move_aside(queue, item, problem)
                        continue
                    self._maybe_update_queues_expire(client, queue)
                    return payload
            self._maybe_update_queues_expire(client, queue)
            raise Empty()

    def _move_aside(self, queue, item, problem):
        aside = poison_list(queue)
        moved = False
        try:
            with self.conn_or_acquire() as client:
                with client.pipeline() as pipe:
                    pipe.lpush(aside, item).ltrim(aside, 0, POISON_KEEP - 1).execute()
            moved = True
        except Exception as exc:  # noqa: BLE001 - the broker went away meanwhile: the item is lost, the worker goes on
            _logger.error("Could not move a poison item of queue %s aside: %s", queue, exc)
        # Its content may be anything, a secret included: only its size and what is wrong with it.
        _logger.error("Queue %s held an item that is not a message (%s, %d bytes): %s; content not logged",
                      queue, problem, len(item or b""), f"moved aside to {aside}" if moved else "dropped")
        _count_poison(queue)
        return moved


def set_aside(message, problem):
    """Move a message the worker received but cannot take aside, as an item that is not one; True if
    it is on the aside list. The caller acknowledges it (it leaves the queue either way)."""
    channel = getattr(message, "channel", None)
    raw = getattr(message, "_raw", None)
    delivery = getattr(message, "delivery_info", None)
    queue = (delivery.get("routing_key") if isinstance(delivery, dict) else None) or "unknown"
    if isinstance(channel, PoisonSafeChannel) and raw is not None:
        return channel._move_aside(queue, dumps(raw).encode(), problem)
    _logger.error("Queue %s held a message the worker cannot take (%s): dropped; content not logged", queue, problem)
    _count_poison(queue)
    return False


# Called with the queue's name for every item set aside; the worker registers its metric here.
POISON_LISTENERS = []


def on_poison(listener):
    POISON_LISTENERS.append(listener)
    return listener


def _count_poison(queue):
    for listener in POISON_LISTENERS:
        try:
            listener(queue)
        except Exception:  # noqa: BLE001 - counting must never stop the consumer
            _logger.exception("Counting a poison item failed")


class PoisonSafeTransport(redis_transport.Transport):
    """kombu's Redis transport with :class:`PoisonSafeChannel`: the app's ``broker_transport``."""

    Channel = PoisonSafeChannel
