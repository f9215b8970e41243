"""The workers' claim on a job before running it, in Redis (SET NX): a duplicate dispatch or a
redelivered message returns the first result instead of running again, and a copy whose first runner
died takes over. The key itself is made at dispatch (celery_bridge.core.idempotency.make_key)."""
import json
import os
import socket
from typing import NamedTuple, Optional

from celery_bridge.core import protocol

PREFIX = protocol.CLAIM_PREFIX


class Claim(NamedTuple):
    verdict: str  # "run", "done" (result is the first run's), "duplicate" (same job running elsewhere), "busy"
    result: Optional[str] = None


RUN, DONE, DUPLICATE, BUSY = "run", "done", "duplicate", "busy"


def _owner():
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _owner_is_dead(owner):
    if not owner or owner.get("host") != socket.gethostname():
        return False  # another machine: its claim's TTL (the job's lease) decides
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError):
        return False
    return False


class Claims:
    """Claims in Redis. A running claim lives as long as the job's lease (heartbeats renew it).

    A done claim lives at least ``done_ttl_floor`` seconds, whatever the key's own TTL: it is what
    stops an old message from running a finished job again, and such a message can come back late
    (the broker gives a dead worker's unacknowledged messages back after its visibility timeout;
    the reaper sends a dead worker's reserved jobs again as a new attempt of the same claim key).
    The worker sets the floor from its settings at start (see ``keep_done_claims_for``).
    """

    done_ttl_floor = 0

    def __init__(self, redis):
        self.redis = redis

    @classmethod
    def keep_done_claims_for(cls, seconds):
        cls.done_ttl_floor = max(0, int(seconds))

    def claim(self, key, uuid, lease):
        name = PREFIX + key
        mine = json.dumps({"uuid": uuid, "state": "running", "owner": _owner()})
        for _ in range(3):
            if self.redis.set(name, mine, nx=True, ex=max(1, int(lease))):
                return Claim(RUN)
            raw = self.redis.get(name)
            if raw is None:
                continue  # expired between the two calls
            current = json.loads(raw)
            if current["state"] == "done":
                return Claim(DONE, current.get("result"))
            if current["uuid"] != uuid:
                return Claim(BUSY)
            if not _owner_is_dead(current.get("owner")):
                return Claim(DUPLICATE)
            # Our own job whose previous run died (killed worker process): take the claim over.
            with self.redis.pipeline() as pipe:
                pipe.watch(name)
                if pipe.get(name) == raw:
                    pipe.multi()
                    pipe.set(name, mine, ex=max(1, int(lease)))
                    if pipe.execute():
                        return Claim(RUN)
        return Claim(BUSY)

    def renew(self, key, lease):
        self.redis.expire(PREFIX + key, max(1, int(lease)))

    def finish(self, key, uuid, result_json, ttl):
        self.redis.set(PREFIX + key, json.dumps({"uuid": uuid, "state": "done", "result": result_json}),
                       ex=max(1, int(ttl), self.done_ttl_floor))

    def release(self, key, uuid):
        """Drop a running claim after a failure, so the retry (or a later dispatch) may run."""
        name = PREFIX + key
        raw = self.redis.get(name)
        if raw and json.loads(raw).get("uuid") == uuid and json.loads(raw).get("state") == "running":
            self.redis.delete(name)
