"""bKash tokenized checkout: grant a token, create a payment, execute it, ask its status.

Simplification: on bKash the customer approves the payment (wallet number, OTP, PIN) on the
``bkashURL`` page between *create* and *execute*; this adapter covers the server-to-server calls,
and the sandbox in ``tests/fakes`` approves at once. The web flow that sends the customer to bKash
and back (``payment_callback_url``) belongs to the Odoo side.

bKash's status API is keyed by its own paymentID, so the adapter keeps reference -> paymentID in
``payment_ids`` (see ``gateway.get_gateway``). A retry resumes the stored paymentID instead of
creating a second payment; executing one paymentID twice can only answer "already completed".
"""
import logging
import threading
import time

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

SUCCESS = "0000"
ALREADY_COMPLETED = {"2062", "2068"}  # "The payment / transaction has already been completed"
UNKNOWN_PAYMENT = {"2002", "2033"}  # "Invalid Payment ID", "Transaction not found"
BAD_CREDENTIALS = {"2001"}  # "Invalid App Key"
TRANSIENT = {"503", "9999"}  # maintenance, system error
DECLINED_STATES = {"Failed", "Cancelled", "Declined", "Expired"}
TOKEN_RENEW_MARGIN = 60.0  # seconds before expiry a token is replaced


class BkashGateway(PaymentGateway):
    name = "bkash"

    def __init__(self, base_url, app_key, app_secret, username, password, timeout=20.0,
                 callback_url="", payment_ids=None, session=None):
        if not (base_url and app_key and app_secret and username and password):
            raise errors.JobError("bKash is not configured (bkash_base_url, _app_key, _app_secret, _username, "
                                  "_password)")
        self.base_url = base_url.rstrip("/")
        self._app_key = app_key
        self._app_secret = app_secret
        self._username = username
        self._password = password
        self.timeout = timeout
        self.callback_url = callback_url
        self.payment_ids = {} if payment_ids is None else payment_ids
        self._http = session or requests.Session()
        self._token = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, payment_ids=None, session=None):
        return cls(settings.bkash_base_url, settings.bkash_app_key, settings.bkash_app_secret,
                   settings.bkash_username, settings.bkash_password, settings.payment_timeout,
                   settings.payment_callback_url, payment_ids, session)

    def __repr__(self):
        return f"BkashGateway(base_url={self.base_url!r})"

    def charge(self, reference, amount, currency, payer, idempotency_key=None):
        # bKash takes no idempotency key: the stored paymentID is what makes a retry safe.
        checked_reference(reference)
        amount_text = checked_amount(amount, currency)
        payment_id = self.payment_ids.get(reference)
        if payment_id is None:
            created = self._call("create", "/tokenized/checkout/create", {
                "mode": "0011", "payerReference": str(payer) if payer else " ", "callbackURL": self.callback_url,
                "amount": amount_text, "currency": currency, "intent": "sale",
                "merchantInvoiceNumber": reference,
            })
            code = self._code(created)
            if code != SUCCESS or not created.get("paymentID"):
                return self._refusal(created, "create", reference)
            payment_id = created["paymentID"]
            self.payment_ids[reference] = payment_id
        executed = self._call("execute", "/tokenized/checkout/execute", {"paymentID": payment_id})
        code = self._code(executed)
        if code in ALREADY_COMPLETED:
            logger.info("bKash: %s was already paid", reference)
            if executed.get("trxID"):
                return ChargeResult(COMPLETED, executed["trxID"], "Completed", self._message(executed))
            return self.query(reference)
        if code != SUCCESS:
            return self._refusal(executed, "execute", reference)
        return self._result(executed, reference)

    def query(self, reference):
        payment_id = self.payment_ids.get(checked_reference(reference))
        if payment_id is None:
            raise errors.NotFound(f"bKash: no payment opened here for {reference}")
        status = self._call("status", "/tokenized/checkout/payment/status", {"paymentID": payment_id})
        code = self._code(status)
        if code in UNKNOWN_PAYMENT:
            raise errors.NotFound(f"bKash knows no payment for {reference}")
        if code != SUCCESS:
            self._raise_for_code(code, "status")
            raise errors.JobError(f"bKash status of {reference}: unexpected code {code}")
        return self._result(status, reference)

    # -- replies

    @staticmethod
    def _code(body):
        return str(body.get("statusCode") or body.get("errorCode") or "")

    def _message(self, body):
        return redact(body.get("statusMessage") or body.get("errorMessage") or "", self._secrets())

    def _result(self, body, reference):
        state = body.get("transactionStatus") or ""
        if state == "Completed" and body.get("trxID"):
            logger.info("bKash: %s completed as %s", reference, body["trxID"])
            return ChargeResult(COMPLETED, body["trxID"], state, self._message(body))
        if state in DECLINED_STATES:
            return ChargeResult(DECLINED, None, state, self._message(body))
        return ChargeResult(PENDING, None, state, self._message(body))

    def _refusal(self, body, step, reference):
        """A non-success code at create/execute: a transient one raises, anything else is a decline."""
        code = self._code(body)
        if not code:  # not an answer bKash gives: whether it acted is unknown, so ask again later
            raise errors.NetworkTimeout(f"bKash {step}: reply without a status code")
        self._raise_for_code(code, step)
        logger.info("bKash: %s declined at %s with %s", reference, step, code)
        return ChargeResult(DECLINED, None, code or "unknown", self._message(body))

    @staticmethod
    def _raise_for_code(code, step):
        if code in TRANSIENT:
            raise errors.NetworkTimeout(f"bKash {step}: gateway unavailable ({code})")
        if code in BAD_CREDENTIALS:
            raise errors.PermissionDenied(f"bKash {step}: app key refused ({code})")

    # -- transport

    def _call(self, step, path, body, renew_token=True):
        what = f"bKash {step}"
        response = http_calls.request(
            self._http, "POST", self.base_url + path, what=what, timeout=self.timeout, json=body,
            headers={"Authorization": self._id_token(), "X-APP-Key": self._app_key, "Accept": "application/json"},
        )
        if response.status_code == 401 and renew_token:  # revoked or expired early: one fresh token
            self._forget_token()
            return self._call(step, path, body, renew_token=False)
        http_calls.raise_for_status(response, what)
        return http_calls.json_body(response, what, errors.NetworkTimeout)

    def _id_token(self):
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                self._token, lifetime = self._grant()
                self._token_expires = time.monotonic() + max(0.0, lifetime - TOKEN_RENEW_MARGIN)
            return self._token

    def _forget_token(self):
        with self._token_lock:
            self._token = None

    def _grant(self):
        what = "bKash token grant"
        response = http_calls.request(
            self._http, "POST", self.base_url + "/tokenized/checkout/token/grant", what=what, timeout=self.timeout,
            json={"app_key": self._app_key, "app_secret": self._app_secret},
            headers={"username": self._username, "password": self._password, "Accept": "application/json"},
        )
        http_calls.raise_for_status(response, what)
        body = http_calls.json_body(response, what, errors.NetworkTimeout)
        code = self._code(body)
        if code in TRANSIENT:
            raise errors.NetworkTimeout(f"{what}: gateway unavailable ({code})")
        if code not in ("", SUCCESS) or not body.get("id_token"):
            raise errors.PermissionDenied(f"{what} refused ({code}: {self._message(body)})")
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        return body["id_token"], lifetime

    def _secrets(self):
        return (self._app_key, self._app_secret, self._password, self._token)
