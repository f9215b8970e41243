"""The task argument schemas Odoo checks at dispatch and the workers check before running."""
import pytest

from celery_bridge.core import limits, schemas

PING = "smart_dairy.health.ping"
TOUCH = "smart_dairy.health.touch"
SEND_EMAIL = "smart_dairy.email.send_email"
SEND_SMS = "smart_dairy.sms.send_sms"
PAYMENT = "smart_dairy.payment.process_payment"


def refused(task, args=(), kwargs=None):
    with pytest.raises(schemas.ArgumentError) as caught:
        schemas.check_call(task, list(args), kwargs or {})
    return str(caught.value)


def test_every_task_the_workers_implement_has_a_schema():
    import importlib

    from celery_bridge.broker.app_factory import TASK_MODULES
    from celery_bridge.celery import app

    for module in TASK_MODULES:
        importlib.import_module(module)
    ours = sorted(name for name in app.tasks if name.startswith("smart_dairy."))
    assert ours, "no task registered"
    assert [name for name in ours if not schemas.known(name)] == []


def test_well_formed_calls_pass():
    schemas.check_call(PING, [], {})
    schemas.check_call(TOUCH, ["runs.txt"], {"hold": 0.5})
    schemas.check_call(SEND_EMAIL, [], {"to": "karim@farm.example", "subject": "Hi", "body_html": "<p>x</p>"})
    schemas.check_call(SEND_SMS, ["+8801712345678", "Milk collected"], {})
    schemas.check_call(PAYMENT, [], {"reference": "PAY/2026/0001", "gateway": "bkash", "amount": "120.50",
                                     "currency": "BDT", "payer": "01712345678"})


def test_positional_and_named_arguments_are_judged_alike():
    assert "too many positional" in refused(PING, [1])
    assert "unknown keyword" in refused(PING, kwargs={"x": 1})
    assert "missing required" in refused(TOUCH)
    assert "both by position and by name" in refused(TOUCH, ["a.txt"], {"path": "b.txt"})


def test_diagnostics_take_a_file_name_never_a_path():
    for path in ("/etc/passwd", "../escape", ".hidden", "a/b", ""):
        refused(TOUCH, [path])
        refused("smart_dairy.health.expect_file", [path])


@pytest.mark.parametrize("address", ["@", "a b@farm.example", "karim@farm.example\r\nBcc: all@farm.example",
                                     "karim@farm.example\nX: y", "not-an-address", 7])
def test_mail_addresses_are_checked(address):
    message = refused(SEND_EMAIL, [address], {"subject": "s", "body_html": "b"})
    assert "'to'" in message or "argument 1" in message


@pytest.mark.parametrize("number", ["", "12", {"to": 1}, "+88017123456789999", "0171234567x"])
def test_phone_numbers_are_checked(number):
    refused(SEND_SMS, [number, "text"])


def test_numbers_are_bounded_and_finite():
    assert "maximum" in refused("smart_dairy.health.sleep", kwargs={"seconds": 1e20})
    refused("smart_dairy.health.sleep", kwargs={"seconds": -1})
    refused("smart_dairy.maintenance.cleanup_old_data", kwargs={"days_to_keep": 0})
    refused("smart_dairy.maintenance.backup_database", kwargs={"keep": True})


def test_payment_amount_and_gateway():
    base = {"reference": "PAY/1", "gateway": "bkash", "amount": "10.00"}
    assert "amount" in refused(PAYMENT, kwargs=dict(base, amount="abc"))
    assert "gateway" in refused(PAYMENT, kwargs=dict(base, gateway="paypal"))
    refused(PAYMENT, kwargs=dict(base, reference="PAY 1; DROP"))


def test_size_limit_holds_for_every_task_even_without_a_schema():
    big = "x" * (limits.MAX_ARGUMENTS_BYTES + 1)
    assert "bytes" in refused("another_addon.some_task", kwargs={"blob": big})
    schemas.check_call("another_addon.some_task", [], {"small": 1})


def test_dates_are_real_dates():
    refused("smart_dairy.report.generate_report",
            kwargs={"report_type": "milk_production", "date_from": "2026-13-01", "date_to": "2026-12-01"})
    refused("smart_dairy.report.generate_report",
            kwargs={"report_type": "everything", "date_from": "2026-11-01", "date_to": "2026-11-30"})


def test_a_refused_secret_is_not_quoted_in_the_fault():
    message = refused("smart_dairy.health.fail", kwargs={"password": "hunter2-" + "x" * 1000})
    assert "hunter2" not in message and "'password'" in message
