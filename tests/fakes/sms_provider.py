"""A local HTTP SMS provider: records what it is asked to send, or fails as a test scripts it.

    provider = SmsProviderFake(api_token="t"); url = provider.start() + "/v1/messages"
    provider.fail_next(429, retry_after=7)   # then 500, 401, 400...
    provider.unavailable_for(17.0)           # every send answers 503 for the next 17 seconds (an outage)
    provider.messages -> [{"to", "from", "text", "message_id"}]
"""
import itertools
import threading
import time

from ._json_http import JsonHttpFake, Reply

SEND_PATH = "/v1/messages"


class SmsProviderFake(JsonHttpFake):
    def __init__(self, api_token="sms-test-token", host="127.0.0.1"):
        super().__init__(host)
        self.api_token = api_token
        self.messages = []
        self._failures = []
        self._down_until = 0.0  # time.monotonic() the outage ends
        self.refused = 0  # sends answered with an error (scripted or during an outage)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def send_url(self):
        return self.base_url + SEND_PATH

    def fail_next(self, status, count=1, retry_after=None):
        """The next ``count`` sends answer ``status`` (with ``Retry-After`` if given) and send nothing."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._failures.extend([Reply(status, {"error": f"scripted {status}"}, headers)] * count)

    def unavailable_for(self, seconds):
        """Every send answers 503 (and sends nothing) for the next ``seconds``: the provider is down."""
        with self._lock:
            self._down_until = time.monotonic() + seconds

    def handle(self, method, path, headers, body):
        if method != "POST" or path != SEND_PATH:
            return Reply(404, {"error": "no such endpoint"})
        if headers.get("Authorization") != f"Bearer {self.api_token}":
            return Reply(401, {"error": "invalid token"})
        with self._lock:
            if time.monotonic() < self._down_until:
                self.refused += 1
                return Reply(503, {"error": "service unavailable"})
            if self._failures:
                self.refused += 1
                return self._failures.pop(0)
            if not isinstance(body, dict) or not all(body.get(key) for key in ("to", "from", "text")):
                return Reply(400, {"error": "to, from and text are required"})
            message = dict(body, message_id=f"sms-{next(self._ids)}")
            self.messages.append(message)
        return Reply(201, {"message_id": message["message_id"], "status": "queued"})
