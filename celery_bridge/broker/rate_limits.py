"""Global rate limits per task type, shared by every worker through Redis.

"100/m" on a task type means at most 100 jobs of that type start in any 60 s, however many workers run
them. Before a job runs, its worker takes a slot (:meth:`GlobalRateLimits.take`); with none free it
waits a moment if one frees soon, else the job is deferred to Odoo until one does (celery_bridge.worker.task).

A moving window: the start times of the last window are kept per task type in a sorted set, stamped by
Redis' own clock (one clock for every worker, whatever their hosts' drift), and a start is admitted only
while fewer than the limit are in it — so no window of that length, anywhere, ever holds more. A fixed
window would let twice the limit through across a window's edge, a token bucket its burst plus a
period's refill. The limit travels beside the log, in one hash Odoo keeps (:meth:`set`, when a task type
changes) and every worker's heartbeat refreshes from Odoo's answer (:meth:`replace_all`), so a change
applies at once to the messages already queued and the messages need not carry (nor sign) it.

Why not the ``limits`` library (its moving window is the same idea): its Redis extra requires
redis-py < 8 (we pin 8.1.0: pip refuses the pair), it stamps entries with each worker's own clock,
and its keys hold the limit's amount, so changing a limit would start from an empty window.
"""
import json
import os
import random
import time
from typing import NamedTuple

from celery_bridge.core import protocol, rates

# A worker waits for a slot this long at most, holding its pool process; a job that would wait longer
# is deferred to Odoo and comes back when its slot frees.
MAX_WAIT = 2.0
# Jobs refused together come back spread over this share of their wait, not all at the same instant.
SPREAD = 0.2

_TAKE = """
local limit = redis.call('HGET', KEYS[1], ARGV[1])
if not limit then
  return {1, 0, ''}
end
limit = cjson.decode(limit)
local starts = tonumber(limit['starts'])
local window = math.floor(tonumber(limit['window']) * 1000000)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local taken = redis.call('ZCARD', KEYS[2])
if taken < starts then
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
  return {1, 0, limit['rate']}
end
-- Full (or over a limit just lowered): a slot frees when enough of the oldest starts leave the window.
local leaving = redis.call('ZRANGE', KEYS[2], taken - starts, taken - starts, 'WITHSCORES')
return {0, tonumber(leaving[2]) + window - now, limit['rate']}
"""

_SET = """
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local clock = redis.call('TIME')
redis.call('SET', KEYS[2], clock[1] .. string.format('%06d', tonumber(clock[2])))
return 1
"""

# A heartbeat's answer was read in Odoo after the worker asked; a live change made since may not be in
# it, and must not be undone by it: the next beat's answer brings it.
_REPLACE_ALL = """
local changed = tonumber(redis.call('GET', KEYS[2]) or '0')
if changed >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
if #ARGV > 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
end
return 1
"""


class Admission(NamedTuple):
    allowed: bool
    retry_in: float = 0.0  # refused: seconds until it is worth asking again
    rate: str = ""  # the limit that applied, as written on the task type ("" when there is none)


def stored(rate):
    """How a :class:`celery_bridge.core.rates.Rate` is kept in the limits hash (read by the Lua script)."""
    return json.dumps({"rate": rate.text, "starts": rate.starts, "window": rate.window})


def spread(retry_in, rng=random):
    """When a refused job should come back: once its slot frees, and not all at the same instant."""
    return retry_in + rng.uniform(0, retry_in * SPREAD)


def start_token(job_uuid, attempt):
    """One start in a log: the job and attempt (readable when looking at Redis), unique per start."""
    return f"{job_uuid}:{attempt}:{os.urandom(4).hex()}"


class GlobalRateLimits:
    def __init__(self, redis, limits_key=protocol.RATE_LIMITS_KEY, changed_key=protocol.RATE_LIMITS_CHANGED_KEY,
                 log_prefix=protocol.RATE_LOG_PREFIX):
        self.redis = redis
        self.limits_key = limits_key
        self.changed_key = changed_key
        self.log_prefix = log_prefix
        self._take = redis.register_script(_TAKE)
        self._set = redis.register_script(_SET)
        self._replace_all = redis.register_script(_REPLACE_ALL)

    def clock(self):
        """Redis' time in microseconds: the one clock the limits and their changes are stamped with."""
        seconds, micros = self.redis.time()
        return seconds * 1000000 + micros

    def set(self, task_name, text):
        """Odoo changed a task type's limit (``text`` as written, '' or None: no limit): live, for every worker."""
        rate = rates.parse_rate(text)
        self._set(keys=[self.limits_key, self.changed_key], args=[task_name, stored(rate) if rate else ""])

    def replace_all(self, limits, asked_at):
        """Every limit set in Odoo (``{task name: text}``, a heartbeat's answer to a question asked at
        ``asked_at``, a :meth:`clock` value); those Odoo changed live since are left as they are.
        Returns whether the limits were replaced. A limit that does not read is skipped."""
        pairs = []
        for task_name, text in sorted(limits.items()):
            try:
                rate = rates.parse_rate(text)
            except ValueError:
                continue
            if rate:
                pairs += [task_name, stored(rate)]
        return bool(self._replace_all(keys=[self.limits_key, self.changed_key], args=[asked_at, *pairs]))

    def limits(self):
        """``{task name: text}`` of the limits in force."""
        return {name.decode(): json.loads(value)["rate"] for name, value in self.redis.hgetall(self.limits_key).items()}

    def try_take(self, task_name, token):
        """Take a slot of ``task_name``'s limit now, if one is free (always, when it has no limit)."""
        allowed, wait_micros, rate = self._take(keys=[self.limits_key, self.log_prefix + task_name],
                                                args=[task_name, token])
        rate = rate.decode() if isinstance(rate, bytes) else rate
        return Admission(bool(allowed), int(wait_micros) / 1e6, rate)

    def take(self, task_name, token, max_wait=MAX_WAIT, sleep=time.sleep, clock=time.monotonic):
        """Take a slot, waiting for one up to ``max_wait`` seconds if it frees by then. Refused, the
        admission says when to come back (spread a little, see :func:`spread`)."""
        deadline = clock() + max_wait
        while True:
            admission = self.try_take(task_name, token)
            if admission.allowed:
                return admission
            if admission.retry_in > deadline - clock():
                return admission._replace(retry_in=spread(admission.retry_in))
            # Another worker may take the freed slot first: then ask again, within the same budget.
            sleep(admission.retry_in + 0.005)

    def in_window(self, task_name):
        """How many jobs of ``task_name`` started in its current window (what an operator may ask)."""
        raw = self.redis.hget(self.limits_key, task_name)
        if raw is None:
            return 0
        window = json.loads(raw)["window"]
        seconds, micros = self.redis.time()
        now = seconds * 1000000 + micros
        return self.redis.zcount(self.log_prefix + task_name, f"({now - int(window * 1000000)}", "+inf")

    def reset(self, task_name):
        """Forget the starts of ``task_name``'s current window: its whole limit is free again."""
        self.redis.delete(self.log_prefix + task_name)
