"""Circuit breakers per external service, shared by every worker through Redis.

closed --(threshold consecutive failures)--> open --(recovery timeout)--> half-open: one probe;
its success closes the circuit, its failure opens it again. While open, jobs for the service are
deferred (they wait in Odoo), not failed.
"""
import time
from typing import NamedTuple

from celery_bridge.core import errors, protocol

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = [(CLOSED, "Closed"), (OPEN, "Open"), (HALF_OPEN, "Half-open")]
DEFAULT_THRESHOLD = 5
DEFAULT_RECOVERY = 60.0
PREFIX = protocol.CIRCUIT_PREFIX
INDEX = protocol.CIRCUIT_INDEX_KEY
# Errors that say "the service is in trouble", as opposed to "this request is wrong".
COUNTED_ERRORS = frozenset({errors.NETWORK_TIMEOUT, errors.RATE_LIMITED})

_RECORD_FAILURE = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local threshold = tonumber(redis.call('HGET', key, 'threshold') or ARGV[2])
local state = redis.call('HGET', key, 'state') or 'closed'
local failures = redis.call('HINCRBY', key, 'failures', 1)
redis.call('HSET', key, 'last_failure_at', now)
if state == 'half_open' or (state == 'closed' and failures >= threshold) then
  redis.call('HSET', key, 'state', 'open', 'opened_at', now)
  redis.call('DEL', key .. ':probe')
  return 'open'
end
return state
"""


class Admission(NamedTuple):
    allowed: bool
    retry_in: float = 0.0


class CircuitBreaker:
    def __init__(self, redis, service, clock=time.time):
        self.redis = redis
        self.service = service
        self.key = PREFIX + service
        self.clock = clock
        self._record_failure = redis.register_script(_RECORD_FAILURE)

    def _config(self, data):
        threshold = int(data.get(b"threshold") or DEFAULT_THRESHOLD)
        recovery = float(data.get(b"recovery_timeout") or DEFAULT_RECOVERY)
        return threshold, recovery

    def status(self):
        data = self.redis.hgetall(self.key)
        threshold, recovery = self._config(data)
        return {
            "service": self.service,
            "state": (data.get(b"state") or b"closed").decode(),
            "failures": int(data.get(b"failures") or 0),
            "opened_at": float(data[b"opened_at"]) if data.get(b"opened_at") else None,
            "last_failure_at": float(data[b"last_failure_at"]) if data.get(b"last_failure_at") else None,
            "threshold": threshold,
            "recovery_timeout": recovery,
        }

    def configure(self, threshold=DEFAULT_THRESHOLD, recovery_timeout=DEFAULT_RECOVERY):
        self.redis.hset(self.key, mapping={"threshold": int(threshold), "recovery_timeout": float(recovery_timeout)})
        self.redis.sadd(INDEX, self.service)

    def reset(self):
        self.redis.hset(self.key, mapping={"state": CLOSED, "failures": 0})
        self.redis.hdel(self.key, "opened_at")
        self.redis.delete(self.key + ":probe")

    def admit(self):
        """May a call to the service go ahead now? If not, how long until it is worth asking again."""
        self.redis.sadd(INDEX, self.service)
        state = self.status()
        if state["state"] == CLOSED:
            return Admission(True)
        waited = self.clock() - (state["opened_at"] or 0)
        if state["state"] == OPEN and waited < state["recovery_timeout"]:
            return Admission(False, state["recovery_timeout"] - waited)
        # Recovery time is over: exactly one caller gets to probe.
        if self.redis.set(self.key + ":probe", "1", nx=True, ex=max(1, int(state["recovery_timeout"]))):
            self.redis.hset(self.key, "state", HALF_OPEN)
            return Admission(True)
        return Admission(False, min(5.0, state["recovery_timeout"]))

    def record_success(self):
        if self.redis.hget(self.key, "state") not in (None, CLOSED.encode()):
            self.reset()
        else:
            self.redis.hset(self.key, "failures", 0)

    def record_failure(self):
        threshold = DEFAULT_THRESHOLD
        result = self._record_failure(keys=[self.key], args=[self.clock(), threshold])
        return result.decode() if isinstance(result, bytes) else result


def all_statuses(redis):
    return [CircuitBreaker(redis, name.decode()).status() for name in sorted(redis.smembers(INDEX))]
