import pickle
import socket
import time
from dataclasses import replace

import pytest

from celery_bridge.core import errors
from celery_bridge.core.config import Settings
from celery_bridge.integrations.mail import chunks, render_named, send_mail
from tests.fakes._net import free_port


def settings_for(server, **overrides):
    return replace(Settings(), smtp_host=server.host, smtp_port=server.port, smtp_timeout=2.0, **overrides)


def test_a_named_mail_arrives_with_its_subject_and_both_parts(smtp_server):
    mail = render_named("report_ready", {
        "report_name": "Milk <production>", "date_from": "2026-01-01", "date_to": "2026-01-31",
        "download_url": "https://files.smartdairybd.com/r/1?a=1&b=2",
    })
    sent = send_mail(settings_for(smtp_server), "manager@farm.example", mail.subject, mail.html, mail.text,
                     reply_to="support@smartdairybd.com")

    [received] = smtp_server.messages
    assert smtp_server.envelopes == [("noreply@smartdairybd.com", ["manager@farm.example"])]
    assert received["Subject"] == "Your report Milk <production> is ready"
    assert received["Message-ID"] == sent["message_id"]
    assert sent["recipient"] == "manager@farm.example"
    assert received["Reply-To"] == "support@smartdairybd.com"
    assert received.get_content_type() == "multipart/alternative"
    html = received.get_body(("html",)).get_content()
    text = received.get_body(("plain",)).get_content()
    assert "<b>Milk &lt;production&gt;</b>" in html
    assert 'href="https://files.smartdairybd.com/r/1?a=1&amp;b=2"' in html
    assert "Your report Milk <production> for 2026-01-01 to 2026-01-31 is ready." in text
    assert "https://files.smartdairybd.com/r/1?a=1&b=2" in text


def test_without_a_text_body_the_html_is_turned_into_text(smtp_server):
    send_mail(settings_for(smtp_server), "a@farm.example", "Hi", "<p>Cows: <b>12</b></p><p>Milk &amp; butter</p>")
    text = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "Cows: 12" in text and "Milk & butter" in text and "<" not in text


def test_attachments_travel_with_the_mail(smtp_server):
    mail = render_named("daily_report", {"report_date": "2026-02-01", "litres": "1,204.5", "devices": 12})
    send_mail(settings_for(smtp_server), "owner@farm.example", mail.subject, mail.html, mail.text,
              attachments=[("daily.csv", b"farm,litres\nA,10\n", "text/csv")])
    [attachment] = list(smtp_server.messages[0].iter_attachments())
    assert attachment.get_filename() == "daily.csv"
    assert attachment.get_content().replace("\r\n", "\n") == "farm,litres\nA,10\n"


def test_a_recipient_refused_for_good_is_refused_and_not_retried(smtp_server):
    smtp_server.refuse("gone@farm.example", code=550)
    with pytest.raises(errors.Refused) as caught:
        send_mail(settings_for(smtp_server), "gone@farm.example", "Hi", "<p>x</p>")
    assert errors.classify(caught.value) == errors.VALIDATION
    assert not errors.retry_decision(errors.classify(caught.value), 0, errors.RetryPolicy(max_retries=3)).retry
    assert smtp_server.messages == []


def test_a_temporary_refusal_is_a_network_timeout(smtp_server):
    smtp_server.refuse("busy@farm.example", code=451)
    with pytest.raises(errors.NetworkTimeout):
        send_mail(settings_for(smtp_server), "busy@farm.example", "Hi", "<p>x</p>")


@pytest.mark.parametrize("refuse, code, error", [
    ("refuse_sender", 550, errors.Refused), ("refuse_data", 552, errors.Refused),
    ("refuse_sender", 451, errors.NetworkTimeout), ("refuse_data", 452, errors.NetworkTimeout),
])
def test_sender_or_message_refusals_follow_the_reply_code(smtp_server, refuse, code, error):
    getattr(smtp_server, refuse)(code=code)
    with pytest.raises(error) as caught:
        send_mail(settings_for(smtp_server), "a@farm.example", "Hi", "<p>x</p>")
    assert type(caught.value) is error
    assert smtp_server.messages == []


def test_no_server_is_a_network_timeout():
    settings = replace(Settings(), smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=2.0)
    with pytest.raises(errors.NetworkTimeout):
        send_mail(settings, "a@farm.example", "Hi", "<p>x</p>")


def test_a_server_that_never_greets_is_a_network_timeout_after_smtp_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = replace(Settings(), smtp_host="127.0.0.1", smtp_port=silent.getsockname()[1], smtp_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(errors.NetworkTimeout):
            send_mail(settings, "a@farm.example", "Hi", "<p>x</p>")
        assert time.monotonic() - started < 2


def test_login_is_used_and_a_wrong_password_is_permission_denied(smtp_server):
    smtp_server.require_login("mailer", "right-pass-1")
    send_mail(settings_for(smtp_server, smtp_user="mailer", smtp_password="right-pass-1"), "a@farm.example", "Hi",
              "<p>x</p>")
    assert len(smtp_server.messages) == 1
    with pytest.raises(errors.PermissionDenied) as caught:
        send_mail(settings_for(smtp_server, smtp_user="mailer", smtp_password="wrong-pass-2"), "a@farm.example",
                  "Hi", "<p>x</p>")
    assert "wrong-pass-2" not in str(caught.value)


@pytest.mark.parametrize("to, subject", [
    ("not-an-address", "Hi"),
    ("a@farm.example, b@farm.example", "Hi"),
    ("a@farm.example\r\nBcc: all@farm.example", "Hi"),
    ("a@farm.example", "Hi\r\nBcc: all@farm.example"),
])
def test_bad_addresses_and_header_injection_are_invalid_input(smtp_server, to, subject):
    with pytest.raises(errors.InvalidInput):
        send_mail(settings_for(smtp_server), to, subject, "<p>x</p>")
    assert smtp_server.messages == []


def test_refused_survives_pickling_as_celery_does_with_errors():
    copy = pickle.loads(pickle.dumps(errors.Refused("recipient x: refused with 550")))
    assert type(copy) is errors.Refused and str(copy) == "recipient x: refused with 550"


def test_named_templates_escape_html_only_and_keep_the_subject_on_one_line():
    mail = render_named("payment_failed", {"customer_name": "Rahim & Sons", "amount": "1,500.00", "currency": "BDT",
                                           "reference": "INV/2026/7\r\nBcc: x@y", "reason": "<i>Insufficient</i>"})
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert "Rahim &amp; Sons" in mail.html and "&lt;i&gt;Insufficient&lt;/i&gt;" in mail.html
    assert "Rahim & Sons" in mail.text and "<i>Insufficient</i>" in mail.text


def test_unknown_template_or_missing_keys_are_invalid_input():
    with pytest.raises(errors.InvalidInput, match="unknown mail template"):
        render_named("no_such_mail", {})
    with pytest.raises(errors.InvalidInput, match="date_to, download_url"):
        render_named("report_ready", {"report_name": "x", "date_from": "y"})
    with pytest.raises(errors.InvalidInput):
        render_named("report_timed_out", ["report_name"])


def test_context_values_are_substituted_never_evaluated():
    mail = render_named("report_timed_out", {"report_name": "${report_name} {0.__class__} $$"})
    assert "${report_name} {0.__class__} $$" in mail.text


def test_chunks_cut_a_recipient_list_in_batches():
    assert list(chunks(range(250), 100)) == [list(range(100)), list(range(100, 200)), list(range(200, 250))]
    assert list(chunks([], 100)) == []
    with pytest.raises(errors.InvalidInput):
        list(chunks([1], 0))
