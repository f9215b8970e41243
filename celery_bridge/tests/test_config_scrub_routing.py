from dataclasses import fields

from celery_bridge import routing
from celery_bridge.config import Settings, load_settings
from celery_bridge.scrub import MASK, scrub


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
