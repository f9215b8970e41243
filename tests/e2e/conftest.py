from pathlib import Path

import pytest

from .harness import (
    ADMIN, ODOO_PATH, ODOO_PRESENT, Client, Ingestor, MosquittoServer, OdooServer, RedisServer, Worker,
    issue_bridge_key,
)

def pytest_collection_modifyitems(config, items):
    if ODOO_PRESENT:
        return
    skip = pytest.mark.skip(reason=f"end-to-end test needs Odoo 18 at {ODOO_PATH} (set ODOO_PATH)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def broker(workdir):
    redis = RedisServer(workdir)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="session")
def odoo(workdir, broker):
    server = OdooServer(workdir, broker.url)
    server.install()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin(odoo):
    return Client(odoo, *ADMIN)


@pytest.fixture(scope="session")
def bridge_key(admin):
    return issue_bridge_key(admin)


@pytest.fixture(scope="session")
def outside(workdir):
    """What the dairy's tasks talk to, as local servers speaking the real protocols: an SMTP server,
    an SMS provider and the bKash / Nagad sandbox (the real ones cannot be reached from here)."""
    from tests.fakes.payment_sandbox import BKASH_CREDENTIALS, NAGAD_API_KEY, NAGAD_MERCHANT_ID, PaymentSandbox
    from tests.fakes.sms_provider import SmsProviderFake
    from tests.fakes.smtp_server import SmtpCapture

    smtp, sms, sandbox = SmtpCapture(), SmsProviderFake(), PaymentSandbox(hold_seconds=3.0)
    smtp.start()
    sms.start()
    sandbox.start()
    env = {
        "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
        "SMS_URL": sms.send_url, "SMS_API_TOKEN": sms.api_token, "SMS_SENDER_ID": "SmartDairy",
        "BKASH_BASE_URL": sandbox.base_url, "BKASH_APP_KEY": BKASH_CREDENTIALS["app_key"],
        "BKASH_APP_SECRET": BKASH_CREDENTIALS["app_secret"], "BKASH_USERNAME": BKASH_CREDENTIALS["username"],
        "BKASH_PASSWORD": BKASH_CREDENTIALS["password"], "NAGAD_BASE_URL": sandbox.base_url,
        "NAGAD_MERCHANT_ID": NAGAD_MERCHANT_ID, "NAGAD_API_KEY": NAGAD_API_KEY, "PAYMENT_TIMEOUT": "1",
        "BACKUP_DIR": str(Path(workdir) / "backups"),
    }
    yield type("Outside", (), {"smtp": smtp, "sms": sms, "sandbox": sandbox, "env": env})
    sandbox.stop()
    sms.stop()
    smtp.stop()


@pytest.fixture(scope="session")
def worker(workdir, odoo, broker, bridge_key, outside):
    process = Worker(workdir, odoo, broker.url, bridge_key)
    process.env.update(outside.env)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def gateway(odoo, admin):
    """An external service's account: a Jobs user logging in over XML-RPC."""
    group_id = admin("ir.model.data", "check_object_reference", "smart_dairy_jobs", "group_user")[1]
    admin("res.users", "create", {
        "name": "IoT Gateway", "login": "iot_gateway", "password": "gateway-pass-1",
        "groups_id": [(6, 0, [group_id])],
    })
    return Client(odoo, "iot_gateway", "gateway-pass-1")


@pytest.fixture(scope="session")
def mqtt_broker(workdir):
    broker = MosquittoServer(workdir)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def ingestor(workdir, odoo, mqtt_broker, bridge_key, worker):
    process = Ingestor(workdir, odoo, mqtt_broker.url, bridge_key)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def live_worker(worker):
    """The session's worker, started again if a test before killed it."""
    if not worker.alive():
        worker.start()
    return worker


@pytest.fixture
def task_settings(admin):
    """Change task types for one test; every change is undone after it."""
    saved = []

    def change(task_name, **vals):
        task_id = admin("smart_dairy.job.task", "search", [("name", "=", task_name)])[0]
        saved.append((task_id, admin("smart_dairy.job.task", "read", [task_id], list(vals))[0]))
        admin("smart_dairy.job.task", "write", [task_id], vals)
        return task_id

    yield change
    for task_id, old in reversed(saved):
        old.pop("id")
        old = {key: (value[0] if isinstance(value, list) else value) for key, value in old.items()}
        admin("smart_dairy.job.task", "write", [task_id], old)
