"""bKash and Nagad adapters against the local sandbox (tests/fakes/payment_sandbox.py), a real HTTP server."""
import logging
import threading
from dataclasses import replace

import pytest
import requests

from celery_bridge.core import errors
from celery_bridge.core.config import Settings
from celery_bridge.integrations.payments import COMPLETED, DECLINED, get_gateway, pay_once
from tests.fakes.payment_sandbox import BKASH_CREDENTIALS, NAGAD_API_KEY, NAGAD_MERCHANT_ID

GATEWAYS = ["bkash", "nagad"]
CHARGE_STEP = {"bkash": "bkash.execute", "nagad": "nagad.complete"}
PAYER = "01712345678"
SECRETS = [BKASH_CREDENTIALS["app_key"], BKASH_CREDENTIALS["app_secret"], BKASH_CREDENTIALS["password"],
           NAGAD_API_KEY]


def settings_for(sandbox, **overrides):
    values = dict(
        payment_timeout=0.3,
        bkash_base_url=sandbox.base_url, bkash_app_key=BKASH_CREDENTIALS["app_key"],
        bkash_app_secret=BKASH_CREDENTIALS["app_secret"], bkash_username=BKASH_CREDENTIALS["username"],
        bkash_password=BKASH_CREDENTIALS["password"],
        nagad_base_url=sandbox.base_url, nagad_merchant_id=NAGAD_MERCHANT_ID, nagad_api_key=NAGAD_API_KEY)
    return replace(Settings(), **dict(values, **overrides))


@pytest.fixture(params=GATEWAYS)
def gateway_name(request):
    return request.param


def gateway(sandbox, name, payment_ids=None, **overrides):
    return get_gateway(name, settings_for(sandbox, **overrides), payment_ids=payment_ids)


def test_a_payment_completes_once_in_the_ledger(payment_sandbox, gateway_name):
    result = pay_once(gateway(payment_sandbox, gateway_name), "INV-1", "150", "BDT", PAYER)
    assert result.status == COMPLETED and result.transaction_id
    [charge] = payment_sandbox.charges(gateway_name)
    assert charge == {"gateway": gateway_name, "reference": "INV-1", "amount": "150.00", "payer": PAYER,
                      "transaction_id": result.transaction_id}


def test_a_declined_payment_is_an_answer_not_an_error(payment_sandbox, gateway_name):
    result = pay_once(gateway(payment_sandbox, gateway_name), "INV-2", 150, "BDT", "01700000000")
    assert result.status == DECLINED and result.transaction_id is None
    assert result.message.lower() == "insufficient balance"
    assert payment_sandbox.charges() == []


def test_bkash_declines_an_invalid_payer_when_creating(payment_sandbox):
    result = pay_once(gateway(payment_sandbox, "bkash"), "INV-3", 150, "BDT", "01700000001")
    assert result == (DECLINED, None, "2048", "Invalid Payer Reference")
    assert payment_sandbox.calls.get("bkash.execute") is None


def test_a_lost_reply_then_a_retry_charges_exactly_once(payment_sandbox, gateway_name):
    payment_ids = {}  # what the workers share (a Redis hash or an Odoo field in production)
    payment_sandbox.script(CHARGE_STEP[gateway_name], "lost_reply")
    with pytest.raises(errors.NetworkTimeout):
        pay_once(gateway(payment_sandbox, gateway_name, payment_ids), "INV-4", 99.5, "BDT", PAYER)
    assert len(payment_sandbox.charges(gateway_name, "INV-4")) == 1, "the gateway did charge"

    retry = gateway(payment_sandbox, gateway_name, payment_ids)  # another worker
    result = pay_once(retry, "INV-4", 99.5, "BDT", PAYER, may_have_reached_gateway=True)
    [charge] = payment_sandbox.charges(gateway_name, "INV-4")
    assert result.status == COMPLETED and result.transaction_id == charge["transaction_id"]
    assert payment_sandbox.calls[CHARGE_STEP[gateway_name]] == 1, "the retry asked, it did not charge again"


def test_a_lost_reply_then_a_retry_that_knows_nothing_still_charges_once(payment_sandbox, gateway_name):
    payment_sandbox.script(CHARGE_STEP[gateway_name], "lost_reply")
    with pytest.raises(errors.NetworkTimeout):
        pay_once(gateway(payment_sandbox, gateway_name), "INV-5", 10, "BDT", PAYER)
    result = pay_once(gateway(payment_sandbox, gateway_name), "INV-5", 10, "BDT", PAYER,
                      may_have_reached_gateway=True)
    [charge] = payment_sandbox.charges(gateway_name, "INV-5")
    assert result.status == COMPLETED and result.transaction_id == charge["transaction_id"]


def test_a_decline_whose_reply_was_lost_stays_a_decline_on_retry(payment_sandbox, gateway_name):
    payment_ids = {}
    payment_sandbox.script(CHARGE_STEP[gateway_name], "lost_reply")
    with pytest.raises(errors.NetworkTimeout):
        pay_once(gateway(payment_sandbox, gateway_name, payment_ids), "INV-19", 10, "BDT", "01700000000")
    result = pay_once(gateway(payment_sandbox, gateway_name, payment_ids), "INV-19", 10, "BDT", "01700000000",
                      may_have_reached_gateway=True)
    assert result.status == DECLINED
    assert payment_sandbox.calls[CHARGE_STEP[gateway_name]] == 1
    assert payment_sandbox.charges() == []


def test_a_request_that_never_got_through_is_charged_on_retry(payment_sandbox, gateway_name):
    payment_ids = {}
    payment_sandbox.script(CHARGE_STEP[gateway_name], "hang")
    with pytest.raises(errors.NetworkTimeout):
        pay_once(gateway(payment_sandbox, gateway_name, payment_ids), "INV-6", 10, "BDT", PAYER)
    assert payment_sandbox.charges() == []
    result = pay_once(gateway(payment_sandbox, gateway_name, payment_ids), "INV-6", 10, "BDT", PAYER,
                      may_have_reached_gateway=True)
    assert result.status == COMPLETED
    assert len(payment_sandbox.charges(gateway_name, "INV-6")) == 1


@pytest.mark.parametrize("step", ["create", "charge"])
def test_a_server_error_is_a_network_timeout(payment_sandbox, gateway_name, step):
    first_step = {"bkash": "bkash.create", "nagad": "nagad.initialize"}[gateway_name]
    payment_sandbox.script(first_step if step == "create" else CHARGE_STEP[gateway_name], "error")
    adapter = gateway(payment_sandbox, gateway_name)
    with pytest.raises(errors.NetworkTimeout):
        pay_once(adapter, "INV-7", 10, "BDT", PAYER)
    assert payment_sandbox.charges() == []
    assert pay_once(adapter, "INV-7", 10, "BDT", PAYER, may_have_reached_gateway=True).status == COMPLETED


def test_rate_limiting_is_rate_limited_with_retry_after(payment_sandbox, gateway_name):
    payment_sandbox.script(CHARGE_STEP[gateway_name], "rate_limited")
    with pytest.raises(errors.RateLimited) as caught:
        pay_once(gateway(payment_sandbox, gateway_name), "INV-8", 10, "BDT", PAYER)
    assert caught.value.retry_after == 5.0


def test_two_concurrent_attempts_for_one_reference_charge_once(payment_sandbox, gateway_name):
    payment_sandbox.rendezvous(CHARGE_STEP[gateway_name], 2)  # both charge requests are in flight together
    results, failures = [], []

    def attempt():
        try:
            results.append(pay_once(gateway(payment_sandbox, gateway_name, payment_timeout=5.0), "INV-9", 40, "BDT", PAYER))
        except Exception as exc:  # reported below: an exception in a thread would vanish
            failures.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert failures == []
    [charge] = payment_sandbox.charges(gateway_name, "INV-9")
    assert [result.status for result in results] == [COMPLETED, COMPLETED]
    assert {result.transaction_id for result in results} == {charge["transaction_id"]}
    assert payment_sandbox.calls[CHARGE_STEP[gateway_name]] == 2


def test_a_completed_reference_charged_again_returns_the_same_payment(payment_sandbox, gateway_name):
    adapter = gateway(payment_sandbox, gateway_name)
    first = pay_once(adapter, "INV-10", 10, "BDT", PAYER)
    again = pay_once(adapter, "INV-10", 10, "BDT", PAYER)
    assert again.status == COMPLETED and again.transaction_id == first.transaction_id
    assert len(payment_sandbox.charges()) == 1


def test_query_of_an_unknown_reference_is_not_found(payment_sandbox, gateway_name):
    with pytest.raises(errors.NotFound):
        gateway(payment_sandbox, gateway_name).query("INV-NEVER")


def test_bkash_gets_a_new_token_when_the_old_one_is_revoked(payment_sandbox):
    adapter = gateway(payment_sandbox, "bkash")
    assert pay_once(adapter, "INV-11", 10, "BDT", PAYER).status == COMPLETED
    payment_sandbox.expire_tokens()
    assert pay_once(adapter, "INV-12", 10, "BDT", PAYER).status == COMPLETED
    assert payment_sandbox.calls["bkash.grant"] == 2


@pytest.mark.parametrize("name, wrong", [("bkash", {"bkash_app_secret": "guessed-secret-1"}),
                                         ("bkash", {"bkash_password": "guessed-password-1"}),
                                         ("nagad", {"nagad_api_key": "guessed-key-1"})])
def test_wrong_credentials_are_permission_denied_without_showing_them(payment_sandbox, name, wrong):
    with pytest.raises(errors.PermissionDenied) as caught:
        pay_once(gateway(payment_sandbox, name, **wrong), "INV-13", 10, "BDT", PAYER)
    for value in wrong.values():
        assert value not in str(caught.value)


def test_no_secret_reaches_logs_results_or_errors(payment_sandbox, gateway_name, caplog):
    caplog.set_level(logging.DEBUG)
    adapter = gateway(payment_sandbox, gateway_name)
    seen = [repr(adapter), repr(pay_once(adapter, "INV-14", 10, "BDT", PAYER)),
            repr(pay_once(adapter, "INV-15", 10, "BDT", "01700000000"))]
    payment_sandbox.script(CHARGE_STEP[gateway_name], "lost_reply")
    with pytest.raises(errors.NetworkTimeout) as caught:
        pay_once(adapter, "INV-16", 10, "BDT", PAYER)
    seen += [str(caught.value), repr(caught.value), caplog.text]
    assert "INV-14" in caplog.text, "the adapters do log"
    for secret in SECRETS + sorted(payment_sandbox.tokens_issued()):
        assert not any(secret in text for text in seen), secret


@pytest.mark.parametrize("amount, currency", [(0, "BDT"), (-5, "BDT"), ("ten", "BDT"), (10, "USD")])
def test_bad_amounts_and_currencies_are_invalid_input(payment_sandbox, gateway_name, amount, currency):
    with pytest.raises(errors.InvalidInput):
        pay_once(gateway(payment_sandbox, gateway_name), "INV-17", amount, currency, PAYER)
    assert payment_sandbox.calls == {}


def test_unknown_or_unconfigured_gateways(payment_sandbox):
    with pytest.raises(errors.InvalidInput):
        get_gateway("paypal", Settings())
    with pytest.raises(errors.JobError, match="not configured"):
        get_gateway("bkash", Settings())
    with pytest.raises(errors.InvalidInput):
        pay_once(gateway(payment_sandbox, "nagad"), "bad reference!", 10, "BDT", PAYER)


def test_the_sandbox_takes_scenarios_over_http(payment_sandbox):
    requests.post(payment_sandbox.base_url + "/__sandbox/script", timeout=2,
                  json={"step": "bkash.create", "outcome": "error", "count": 2}).raise_for_status()
    adapter = gateway(payment_sandbox, "bkash")
    for _ in range(2):
        with pytest.raises(errors.NetworkTimeout):
            pay_once(adapter, "INV-18", 10, "BDT", PAYER)
    assert pay_once(adapter, "INV-18", 10, "BDT", PAYER).status == COMPLETED
    ledger = requests.get(payment_sandbox.base_url + "/__sandbox/ledger", timeout=2).json()
    assert [charge["reference"] for charge in ledger["charges"]] == ["INV-18"]
