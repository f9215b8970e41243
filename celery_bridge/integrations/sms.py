"""Sending SMS through an HTTP provider.

The provider takes ``POST <sms_url>`` with JSON ``{"to", "from", "text"}`` and a bearer token, and
answers 200/201 with ``{"message_id": ..., "status": "queued"}``. Failures come back as the bridge's
typed errors: 429 -> ``RateLimited`` (with Retry-After), 5xx / no connection / no reply ->
``NetworkTimeout`` (a 503's Retry-After kept), 401/403 -> ``PermissionDenied``, any other 4xx ->
``Refused``; a reply it cannot read -> ``UnexpectedReply``, never retried: the text may have gone out.
"""
import logging
import re

import requests

from celery_bridge.core import errors
from celery_bridge.core.scrub import masked_number
from celery_bridge.integrations import http_calls

logger = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
BANGLADESH_MOBILE = re.compile(r"^\+8801[3-9]\d{8}$")
MAX_TEXT_LENGTH = 1530  # ten concatenated GSM-7 parts; longer texts are a bug upstream, not an SMS


def normalise_number(raw):
    """The number in E.164 form; Bangladeshi mobiles may be written 01XXXXXXXXX or 8801XXXXXXXXX."""
    number = re.sub(r"[\s\-().]", "", str(raw or ""))
    if number.startswith("00"):
        number = "+" + number[2:]
    if re.fullmatch(r"01\d{9}", number):
        number = "+88" + number
    elif re.fullmatch(r"8801\d{9}", number):
        number = "+" + number
    if not E164.match(number):
        raise errors.InvalidInput(f"{raw!r} is not a phone number in international form")
    if number.startswith("+880") and not BANGLADESH_MOBILE.match(number):
        raise errors.InvalidInput(f"{raw!r} is not a Bangladeshi mobile number (+8801[3-9]XXXXXXXX)")
    return number


class HttpSmsProvider:
    def __init__(self, url, api_token, sender_id, timeout=30.0, session=None):
        self.url = url
        self._api_token = api_token
        self.sender_id = sender_id
        self.timeout = timeout
        self._http = session or requests.Session()

    @classmethod
    def from_settings(cls, settings, session=None):
        return cls(settings.sms_url, settings.sms_api_token, settings.sms_sender_id, settings.sms_timeout, session)

    def __repr__(self):
        return f"HttpSmsProvider(url={self.url!r}, sender_id={self.sender_id!r})"

    def send(self, to, text):
        """Hand one text to the provider; returns ``{"recipient", "message_id", "status"}``."""
        if not (self.url and self._api_token and self.sender_id):
            raise errors.JobError("SMS provider not configured (sms_url, sms_api_token, sms_sender_id)")
        recipient = normalise_number(to)
        if not text or not text.strip():
            raise errors.InvalidInput("empty SMS text")
        if len(text) > MAX_TEXT_LENGTH:
            raise errors.InvalidInput(f"SMS text longer than {MAX_TEXT_LENGTH} characters")
        what = "SMS provider"
        response = http_calls.request(
            self._http, "POST", self.url, what=what, timeout=self.timeout,
            json={"to": recipient, "from": self.sender_id, "text": text},
            headers={"Authorization": f"Bearer {self._api_token}"},
        )
        http_calls.raise_for_status(response, what)
        if response.status_code not in (200, 201):
            raise errors.UnexpectedReply(f"{what}: unexpected HTTP {response.status_code}")
        body = http_calls.json_body(response, what, errors.UnexpectedReply)
        if not body.get("message_id"):
            raise errors.UnexpectedReply(f"{what}: the reply names no message_id")
        logger.info("SMS to %s accepted as %s (%s)", masked_number(recipient), body["message_id"], body.get("status"))
        return {"recipient": recipient, "message_id": body["message_id"], "status": body.get("status", "queued")}
