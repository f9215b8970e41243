import time
from email.utils import formatdate

import pytest
import requests

from celery_bridge.core import errors
from celery_bridge.integrations import http_calls
from celery_bridge.integrations.sms import HttpSmsProvider, normalise_number
from tests.fakes._net import free_port


def provider_for(fake, token=None, timeout=2.0):
    return HttpSmsProvider(fake.send_url, token or fake.api_token, "SmartDairy", timeout)


def test_a_text_reaches_the_provider(sms_provider):
    sent = provider_for(sms_provider).send("01712-345678", "Milk collection at 6 am")
    assert sms_provider.messages == [{"to": "+8801712345678", "from": "SmartDairy", "text": "Milk collection at 6 am",
                                      "message_id": sent["message_id"]}]
    assert sent == {"recipient": "+8801712345678", "message_id": "sms-1", "status": "queued"}


def test_rate_limited_carries_the_providers_retry_after(sms_provider):
    sms_provider.fail_next(429, retry_after=7)
    with pytest.raises(errors.RateLimited) as caught:
        provider_for(sms_provider).send("+8801712345678", "hello")
    assert caught.value.retry_after == 7.0
    assert errors.retry_decision(errors.classify(caught.value), 0, errors.RetryPolicy(10),
                                 retry_after=errors.retry_after_of(caught.value)) == (True, 7.0)
    assert sms_provider.messages == []


def test_a_server_error_is_a_network_timeout(sms_provider):
    sms_provider.fail_next(500)
    with pytest.raises(errors.NetworkTimeout):
        provider_for(sms_provider).send("+8801712345678", "hello")
    provider_for(sms_provider).send("+8801712345678", "hello")  # the next attempt goes through
    assert len(sms_provider.messages) == 1


def test_a_503_keeps_the_providers_retry_after_and_the_policy_waits_for_it(sms_provider):
    sms_provider.fail_next(503, retry_after=20)
    with pytest.raises(errors.NetworkTimeout) as caught:
        provider_for(sms_provider).send("+8801712345678", "hello")
    assert caught.value.retry_after == 20.0
    smtp_like = errors.RetryPolicy(max_retries=3, backoff_base=60.0, exponential=False)
    assert errors.retry_decision(errors.classify(caught.value), 0, smtp_like,
                                 retry_after=errors.retry_after_of(caught.value)) == (True, 20.0)
    sms_provider.fail_next(503)
    with pytest.raises(errors.NetworkTimeout) as caught:
        provider_for(sms_provider).send("+8801712345678", "hello")
    assert caught.value.retry_after is None


def test_a_reply_it_cannot_read_is_never_retried_as_the_text_may_have_gone_out(sms_provider):
    sms_provider.fail_next(200)  # 200 without a message_id
    with pytest.raises(errors.UnexpectedReply) as caught:
        provider_for(sms_provider).send("+8801712345678", "hello")
    assert not errors.retry_decision(errors.classify(caught.value), 0, errors.RetryPolicy(max_retries=10)).retry


def test_a_wrong_token_is_permission_denied_and_not_shown(sms_provider):
    with pytest.raises(errors.PermissionDenied) as caught:
        provider_for(sms_provider, token="stale-token-123").send("+8801712345678", "hello")
    assert "stale-token-123" not in str(caught.value)
    assert "stale-token-123" not in repr(provider_for(sms_provider, token="stale-token-123"))


def test_other_client_errors_are_refused(sms_provider):
    sms_provider.fail_next(400)
    with pytest.raises(errors.Refused):
        provider_for(sms_provider).send("+8801712345678", "hello")


def test_no_provider_is_a_network_timeout():
    provider = HttpSmsProvider(f"http://127.0.0.1:{free_port()}/v1/messages", "t", "SmartDairy", 2.0)
    with pytest.raises(errors.NetworkTimeout):
        provider.send("+8801712345678", "hello")


@pytest.mark.parametrize("raw, expected", [
    ("01712345678", "+8801712345678"),
    ("+880 1912-345678", "+8801912345678"),
    ("8801312345678", "+8801312345678"),
    ("008801812345678", "+8801812345678"),
    ("+447700900123", "+447700900123"),
])
def test_numbers_are_normalised_to_e164(raw, expected):
    assert normalise_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "01212345678", "+88017123456", "+880171234567890", "call me", None])
def test_bad_numbers_are_invalid_input_and_nothing_is_sent(sms_provider, raw):
    with pytest.raises(errors.InvalidInput):
        provider_for(sms_provider).send(raw, "hello")
    assert sms_provider.messages == []


def test_empty_text_is_invalid_input(sms_provider):
    with pytest.raises(errors.InvalidInput):
        provider_for(sms_provider).send("01712345678", "  ")


def test_retry_after_may_be_an_http_date():
    response = requests.Response()
    response.headers["Retry-After"] = formatdate(time.time() + 120, usegmt=True)
    assert 115 <= http_calls.retry_after_seconds(response) <= 121
    response.headers["Retry-After"] = "soon"
    assert http_calls.retry_after_seconds(response) is None


def test_an_unconfigured_provider_is_an_internal_error_retried_by_the_default_policy():
    # Retried (3 times, 60 s, 120 s, 240 s): an administrator who fixes the settings meanwhile saves the text.
    with pytest.raises(errors.JobError, match="not configured") as caught:
        HttpSmsProvider("", "", "", 1.0).send("01712345678", "hello")
    assert errors.classify(caught.value) == errors.INTERNAL
    assert errors.retry_decision(errors.INTERNAL, 0, errors.RetryPolicy()).retry
