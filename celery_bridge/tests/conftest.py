import os
import uuid

import pytest
import redis


@pytest.fixture
def redis_db():
    """A real Redis (the machine's, database 15 by default); the test's keys are removed after it."""
    client = redis.Redis.from_url(os.environ.get("SDJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    client.ping()
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    client.test_prefix = prefix
    yield client
    keys = client.keys(prefix + "*") + client.keys("sdj:*" + prefix + "*")
    if keys:
        client.delete(*keys)
    for member in client.smembers("sdj:circuits"):
        if member.decode().startswith(prefix):
            client.srem("sdj:circuits", member)


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free local port, keeping what it receives."""
    from tests.fakes.smtp_server import SmtpCapture

    server = SmtpCapture()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sms_provider():
    from tests.fakes.sms_provider import SmsProviderFake

    provider = SmsProviderFake()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def payment_sandbox():
    """The local bKash + Nagad sandbox; replies it is told to lose come 3 s late (clients wait 0.3 s)."""
    from tests.fakes.payment_sandbox import PaymentSandbox

    sandbox = PaymentSandbox(hold_seconds=3.0)
    sandbox.start()
    yield sandbox
    sandbox.stop()
