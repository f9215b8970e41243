import json

import pytest

from celery_bridge.core import external_services

PAYMENT = "smart_dairy.payment.process_payment"


def test_a_plain_name_is_the_service():
    assert external_services.resolve("smtp", "smart_dairy.email.send_email", ["a@b.example"], {}) == "smtp"
    assert external_services.resolve("", PAYMENT, [], {}) is None
    assert external_services.resolve(None, PAYMENT, [], {}) is None


def test_each_gateway_has_its_own_circuit_by_keyword_or_by_position():
    pattern = "payment.{gateway}"
    assert external_services.resolve(pattern, PAYMENT, [], {"reference": "R1", "gateway": "bkash"}) == "payment.bkash"
    assert external_services.resolve(pattern, PAYMENT, ["R1", "nagad", "5.00"], {}) == "payment.nagad"


def test_a_missing_or_unusual_value_shares_one_circuit():
    pattern = "payment.{gateway}"
    assert external_services.resolve(pattern, PAYMENT, ["R1"], {}) == "payment.other"
    for odd in ("Bad Gateway", "../x", "x" * 40, {"a": 1}, True, ""):
        assert external_services.resolve(pattern, PAYMENT, [], {"gateway": odd}) == "payment.other", odd
    assert external_services.resolve(pattern, PAYMENT, [], {"gateway": "BKASH"}) == "payment.bkash"


def test_rows_as_the_outbox_reads_them():
    args, kwargs = json.dumps(["R1", "bkash", "5.00"]), json.dumps({})
    assert external_services.resolve_json("payment.{gateway}", PAYMENT, args, kwargs) == "payment.bkash"
    assert external_services.resolve_json("sms", PAYMENT, "not json, never parsed", None) == "sms"
    assert external_services.resolve_json(False, PAYMENT, args, kwargs) is None


def test_a_pattern_stored_before_the_check_is_used_as_it_is():
    assert external_services.resolve("pay {gateway!r}", PAYMENT, [], {"gateway": "bkash"}) == "pay {gateway!r}"


@pytest.mark.parametrize("pattern, names", [
    ("smtp", []), ("payment.{gateway}", ["gateway"]), ("{a}-{b}", ["a", "b"]), ("sandbox-test_x0", []),
])
def test_placeholders(pattern, names):
    assert external_services.placeholders(pattern) == names


@pytest.mark.parametrize("pattern", ["payment.{", "payment.{0}", "payment.{gateway!r}", "payment.{gateway:>5}",
                                     "payment.{gateway.x}", "Payment", "two words", "-x", "x" * 65])
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(ValueError):
        external_services.placeholders(pattern)
