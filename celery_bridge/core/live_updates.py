"""Live updates: what a browser is told when jobs, queues or workers change, and how often.

Odoo sends these over its bus (smart_dairy_jobs/engine/live.py); the job form, the queue dashboard
and the worker list read the records again when told. A notification names only what changed (ids),
never what it now holds, so what a browser then sees goes through the ORM and its record rules.

A busy fleet lands a write-back batch many times a second, and each notification makes every
subscribed websocket query the bus: at most one goes to a target per interval. What changes in
between is held and told with the next one, never dropped; and a browser reads again once more a
little over one interval after a notification, which covers what is held when no next one comes.
"""
import math
import threading
import time

KINDS = ("job_ids", "queue_ids", "worker_ids")
# Beyond this many ids of one kind a notification says "truncated": the browser reloads what it
# shows instead of looking for its record among them.
MAX_IDS = 1000
DEFAULT_INTERVAL = 1.0


def interval_setting(value, default=DEFAULT_INTERVAL):
    """The throttle interval in seconds from a setting's text (0 turns throttling off)."""
    if value is None or value is False or value == "":  # not set (Odoo's get_param answers False)
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if math.isfinite(seconds) and 0 <= seconds <= 60 else default


class NotificationThrottle:
    """At most one notification per target and interval; changes in between wait for the next one.

    ``offer`` is called when a transaction is about to commit its changes: it answers the payload to
    send now (what was held for that target, plus these changes) or None (held). Thread-safe: a
    threaded Odoo serves several requests in one process. Each process keeps its own account; a
    prefork server sends at most one per target, interval and HTTP worker.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sent = {}
        self._held = {}

    def offer(self, target, changes, interval=DEFAULT_INTERVAL):
        """``changes`` maps kinds (KINDS) to ids; the payload for ``target`` if one goes out now."""
        with self._lock:
            held = self._held.setdefault(target, {"truncated": False})
            for kind, ids in changes.items():
                if kind not in KINDS:
                    raise ValueError(f"unknown kind of change {kind!r}")
                merged = held.setdefault(kind, set())
                merged.update(ids)
                if len(merged) > MAX_IDS:
                    held["truncated"] = True
                    held[kind] = set(sorted(merged)[:MAX_IDS])
            now = self._clock()
            last = self._last_sent.get(target)
            if last is not None and now - last < interval:
                return None
            self._last_sent[target] = now
            return payload(self._held.pop(target))

    def reset(self):
        """Forget what was sent and held (a test's fresh start)."""
        with self._lock:
            self._last_sent.clear()
            self._held.clear()


def payload(held):
    """The notification's payload: sorted ids of each kind that changed, and whether some were left out."""
    body = {kind: sorted(held[kind]) for kind in KINDS if held.get(kind)}
    if held.get("truncated"):
        body["truncated"] = True
    return body
