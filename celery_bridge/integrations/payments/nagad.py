"""Nagad online checkout: initialize an order, complete it, verify it.

Simplifications, to be replaced before going live with the keys Nagad issues:
- Nagad encrypts ``sensitiveData`` with its RSA public key and signs it with the merchant's RSA
  private key (SHA256withRSA). Here ``sensitiveData`` is base64-encoded JSON and ``signature`` is
  base64 HMAC-SHA256 over it with ``nagad_api_key``; replies are checked the same way. Only
  ``seal``/``unseal``/``sign`` change when the RSA keys come in.
- The customer pays on Nagad's page between *complete* and *verify*; the sandbox in
  ``tests/fakes`` settles the order inside *complete*.
- Headers Nagad asks for beyond ``X-KM-Api-Version`` / ``X-KM-Client-Type`` (the customer's IP)
  are the web flow's business.

Initialising an order Nagad already knows answers its existing paymentReferenceId, so a retry
re-initialises; ``payment_ids`` keeps reference -> paymentReferenceId for ``query``.
"""
import base64
import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timezone
from urllib.parse import quote

import requests

from celery_bridge.core import errors
from celery_bridge.integrations import http_calls
from celery_bridge.core.scrub import redact
from celery_bridge.integrations.payments.gateway import (
    COMPLETED,
    DECLINED,
    PENDING,
    ChargeResult,
    PaymentGateway,
    checked_amount,
    checked_reference,
)

logger = logging.getLogger(__name__)

CURRENCY_CODES = {"BDT": "050"}  # ISO 4217 numeric, as Nagad wants it
DECLINED_STATES = {"Aborted", "Cancelled", "Failed", "Rejected"}
HEADERS = {"X-KM-Api-Version": "v-0.2.0", "X-KM-Client-Type": "PC_WEB", "Accept": "application/json"}


def _path(endpoint, *parts):
    return f"/api/dfs/{endpoint}/" + "/".join(quote(part, safe="") for part in parts)


def seal(data):
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def unseal(sealed):
    return json.loads(base64.b64decode(sealed))


def sign(key, sealed):
    return base64.b64encode(hmac.new(key.encode(), sealed.encode(), hashlib.sha256).digest()).decode()


class NagadGateway(PaymentGateway):
    name = "nagad"

    def __init__(self, base_url, merchant_id, api_key, timeout=20.0, callback_url="", payment_ids=None, session=None):
        if not (base_url and merchant_id and api_key):
            raise errors.JobError("Nagad is not configured (nagad_base_url, nagad_merchant_id, nagad_api_key)")
        self.base_url = base_url.rstrip("/")
        self.merchant_id = merchant_id
        self._api_key = api_key
        self.timeout = timeout
        self.callback_url = callback_url
        self.payment_ids = {} if payment_ids is None else payment_ids
        self._http = session or requests.Session()

    @classmethod
    def from_settings(cls, settings, payment_ids=None, session=None):
        return cls(settings.nagad_base_url, settings.nagad_merchant_id, settings.nagad_api_key,
                   settings.payment_timeout, settings.payment_callback_url, payment_ids, session)

    def __repr__(self):
        return f"NagadGateway(base_url={self.base_url!r}, merchant_id={self.merchant_id!r})"

    def charge(self, reference, amount, currency, payer, idempotency_key=None):
        # Nagad takes no idempotency key: the order id (our reference) is what it dedupes by.
        checked_reference(reference)
        amount_text = checked_amount(amount, currency, tuple(CURRENCY_CODES))
        payment_ref, challenge = self._initialize(reference)
        self.payment_ids[reference] = payment_ref
        sealed = seal({"merchantId": self.merchant_id, "orderId": reference, "amount": amount_text,
                       "currencyCode": CURRENCY_CODES[currency], "challenge": challenge})
        body = self._call("complete", "POST", _path("check-out/complete", payment_ref), {
            "sensitiveData": sealed, "signature": sign(self._api_key, sealed),
            "merchantCallbackURL": self.callback_url, "additionalMerchantInfo": {"payerReference": payer or ""},
        })
        return self._result(body, reference)

    def query(self, reference):
        payment_ref = self.payment_ids.get(checked_reference(reference))
        if payment_ref is None:
            raise errors.NotFound(f"Nagad: no order initialised here for {reference}")
        return self._result(self._call("verify", "GET", _path("verify/payment", payment_ref)), reference)

    def _initialize(self, reference):
        sealed = seal({"merchantId": self.merchant_id, "orderId": reference, "challenge": secrets.token_hex(20),
                       "datetime": datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")})
        body = self._call("initialize", "POST", _path("check-out/initialize", self.merchant_id, reference), {
            "dateTime": datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
            "sensitiveData": sealed, "signature": sign(self._api_key, sealed),
        })
        reply_sealed, reply_signature = body.get("sensitiveData"), body.get("signature")
        if not reply_sealed or not hmac.compare_digest(str(reply_signature), sign(self._api_key, reply_sealed)):
            raise errors.PermissionDenied("Nagad initialize: the reply's signature does not verify")
        try:
            reply = unseal(reply_sealed)
            return reply["paymentReferenceId"], reply["challenge"]
        except (ValueError, KeyError, TypeError):
            raise errors.NetworkTimeout("Nagad initialize: unreadable sensitiveData in the reply") from None

    def _result(self, body, reference):
        state = str(body.get("status") or "")
        message = redact(body.get("message") or body.get("reason") or "", (self._api_key,))
        if state == "Success" and body.get("issuerPaymentRefNo"):
            logger.info("Nagad: %s completed as %s", reference, body["issuerPaymentRefNo"])
            return ChargeResult(COMPLETED, body["issuerPaymentRefNo"], state, message)
        if state in DECLINED_STATES:
            logger.info("Nagad: %s declined (%s)", reference, state)
            return ChargeResult(DECLINED, None, state, message)
        return ChargeResult(PENDING, None, state, message)

    def _call(self, step, method, path, body=None):
        what = f"Nagad {step}"
        response = http_calls.request(self._http, method, self.base_url + path, what=what, timeout=self.timeout,
                                      json=body, headers=HEADERS)
        if response.status_code == 404 and step == "verify":
            raise errors.NotFound("Nagad knows no such payment reference")
        http_calls.raise_for_status(response, what)
        return http_calls.json_body(response, what, errors.NetworkTimeout)
