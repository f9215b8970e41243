import logging
import os
from dataclasses import fields

import pytest
from celery.worker.consumer.consumer import INVALID_TASK_ERROR, UNKNOWN_TASK_ERROR

from celery_bridge.core import routing
from celery_bridge.worker.log_filter import HideJobArguments
from celery_bridge.core.config import Settings, diagnostics_dir, load_settings
from celery_bridge.core.scrub import MASK, hide_url_passwords, is_secret_key, scrub


def test_environment_wins_over_odoo_conf(tmp_path):
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\ndb_name = x\n[smart_dairy_jobs]\nodoo_db = from_file\nodoo_url = http://file:1\n")
    settings = load_settings({"ODOO_RC": str(conf), "ODOO_DB": "from_env"})
    assert settings.odoo_db == "from_env"
    assert settings.odoo_url == "http://file:1"
    assert settings.celery_broker_url == "redis://127.0.0.1:6379/0"


def test_bad_number_is_a_clear_error():
    try:
        load_settings({"RPC_TIMEOUT": "soon"}, section={})
    except ValueError as exc:
        assert "rpc_timeout" in str(exc)
    else:
        raise AssertionError("a non-number timeout was accepted")


def test_settings_repr_hides_the_api_key():
    settings = load_settings({"ODOO_API_KEY": "s3cr3t-key"}, section={})
    assert "s3cr3t-key" not in repr(settings)


def test_scrub_masks_nested_secrets_and_keeps_the_rest():
    data = {"amount": 5, "payment": {"api_key": "k", "Password": "p", "items": [{"token": "t", "n": 1}]}}
    assert scrub(data) == {"amount": 5, "payment": {"api_key": MASK, "Password": MASK, "items": [{"token": MASK, "n": 1}]}}
    assert scrub(["a", {"secret": 1}]) == ["a", {"secret": MASK}]
    assert scrub({"app_key": "k", "X-APP-Key": "k", "username": "u"}) == {"app_key": MASK, "X-APP-Key": MASK, "username": "u"}


def test_routing_by_task_name():
    assert routing.route_for("smart_dairy.iot.process_sensor_data") == "celery:iot"
    assert routing.route_for("smart_dairy.email.send_email") == "celery:email"
    assert routing.route_for("smart_dairy.payment.process_payment") == "celery:payment"
    assert routing.route_for("smart_dairy.report.generate_report.low_priority") == "celery:low"
    assert routing.route_for("smart_dairy.sync.inventory.high_priority") == "celery:high"
    assert routing.route_for("smart_dairy.health.ping") == "celery"
    assert set(routing.QUEUE_NAMES) == {
        "celery", "celery:high", "celery:low", "celery:iot", "celery:email", "celery:report", "celery:payment"}


def test_settings_repr_hides_every_secret_looking_field():
    secret_names = [f.name for f in fields(Settings)
                    if any(word in f.name for word in ("password", "secret", "token", "api_key", "app_key"))]
    assert {"odoo_api_key", "smtp_password", "sms_api_token", "bkash_app_key", "bkash_app_secret",
            "bkash_password", "nagad_api_key"} <= set(secret_names)
    environ = {name.upper(): f"value-of-{name}" for name in secret_names}
    environ["SMTP_USER"] = "mailer"
    shown = repr(load_settings(environ, section={}))
    for name in secret_names:
        assert f"value-of-{name}" not in shown
        assert f"{name}={MASK!r}" in shown
    assert "smtp_user='mailer'" in shown, "only secrets are hidden"
    assert "smtp_timeout=10.0" in shown


def test_new_settings_read_numbers_from_odoo_conf():
    settings = load_settings({}, section={"smtp_port": "2525", "payment_timeout": "5.5", "sms_url": "http://x/s"})
    assert (settings.smtp_port, settings.payment_timeout, settings.sms_url) == (2525, 5.5, "http://x/s")
    assert settings.smtp_security == "none"


SECRET_NAMES = [
    "password", "Password", "passwd", "pwd", "db_pwd", "passphrase", "secret", "client_secret", "token",
    "access_token", "refreshToken", "api_key", "apiKey", "APIKey", "X-Api-Key", "app_key", "access_key",
    "AWS_ACCESS_KEY_ID", "secret_key", "private_key", "session_key", "sessionKey", "session_id", "cookie",
    "Set-Cookie", "cookies", "auth", "Authorization", "credentials", "otp", "pin", "card_pin", "mpin", "cvv",
    "cvv2", "cvc", "card_number", "security_code", "userPassword", "smtp_password", "bkash_app_secret", "dsn",
]
ORDINARY_NAMES = [
    "amount", "username", "login", "email", "key", "idempotency_key", "keyword", "milking_session", "session",
    "author", "spin_speed", "compass", "passenger", "pinned", "spinach", "company_id", "device_code", "note",
    "sms_sender_id", "smtp_user", "path", "days_to_keep",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_usual_secret_names_are_secrets(name):
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_names_stay_visible(name):
    assert not is_secret_key(name)


def test_scrub_masks_the_new_names_and_url_passwords():
    data = {"pwd": "p", "access_key": "a", "session_key": "s", "cvv": "123", "pin": "0000", "cookie": "c=1",
            "milking_session": "morning", "broker": "redis://:hunter2@redis:6379/0", "count": 3}
    assert scrub(data) == {"pwd": MASK, "access_key": MASK, "session_key": MASK, "cvv": MASK, "pin": MASK,
                           "cookie": MASK, "milking_session": "morning", "broker": f"redis://:{MASK}@redis:6379/0",
                           "count": 3}


def test_url_and_dsn_passwords_are_hidden():
    assert hide_url_passwords("postgresql://odoo:pw1@db:5432/x") == f"postgresql://odoo:{MASK}@db:5432/x"
    assert hide_url_passwords("host=db password='a b' user=odoo") == f"host=db password={MASK} user=odoo"
    assert hide_url_passwords("redis://redis:6379/0") == "redis://redis:6379/0"


def test_settings_repr_hides_broker_passwords_but_shows_where_the_broker_is():
    shown = repr(load_settings({"CELERY_BROKER_URL": "redis://:br0ker-pw@redis:6379/0",
                                "CELERY_RESULT_BACKEND": "redis://:br0ker-pw@redis:6379/1"}, section={}))
    assert "br0ker-pw" not in shown
    assert f"celery_broker_url='redis://:{MASK}@redis:6379/0'" in shown


def _filtered(msg, *args):
    record = logging.LogRecord("celery.worker.consumer.consumer", logging.ERROR, __file__, 1, msg, args, None)
    HideJobArguments().filter(record)
    return record.getMessage()


def test_log_filter_drops_message_bodies_from_celerys_own_templates():
    body = "([], {'password': 'hunter2-xyz'}, {}) (99b)"
    shown = _filtered(UNKNOWN_TASK_ERROR, KeyError("x.y"), body, {"kwargsrepr": "{'password': 'hunter2-xyz'}"}, {})
    assert "hunter2-xyz" not in shown and "Received unregistered task of type" in shown
    assert "hunter2-xyz" not in _filtered(INVALID_TASK_ERROR, ValueError("bad"), body)


def test_log_filter_masks_job_arguments_in_celerys_task_lines():
    context = {"id": "1", "name": "t", "args": "['x']", "kwargs": "{'api_key': 'k-12345'}", "eta": None}
    shown = _filtered("Task %(name)s[%(id)s] received %(args)s %(kwargs)s", context)
    assert "k-12345" not in shown and "'x'" not in shown and "Task t[1] received" in shown


def test_diagnostics_folder_is_private_and_created_once(tmp_path):
    folder = tmp_path / "diag"
    settings = load_settings({"DIAGNOSTICS_DIR": str(folder)}, section={})
    assert diagnostics_dir(settings) == os.path.realpath(folder)
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o755)
    assert diagnostics_dir(settings) == os.path.realpath(folder)
    assert folder.stat().st_mode & 0o777 == 0o700, "an existing folder is made private"
    default = diagnostics_dir(load_settings({}, section={}))
    assert os.path.isdir(default) and os.stat(default).st_mode & 0o777 == 0o700


def test_a_diagnostics_folder_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(PermissionError):
        diagnostics_dir(load_settings({"DIAGNOSTICS_DIR": str(tmp_path / "link")}, section={}))
