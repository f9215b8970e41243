"""A local bKash + Nagad sandbox: the request/reply shapes of both gateways and a ledger of charges.

    sandbox = PaymentSandbox(); base_url = sandbox.start()   # bKash and Nagad paths on one server
    sandbox.script("bkash.execute", "lost_reply")             # next execute charges, then answers too late
    sandbox.charges("bkash", "INV-1")                         # completed charges (one per reference at most)
    sandbox.stop()

A reference (bKash merchantInvoiceNumber, Nagad orderId) is never completed twice: a second
execute/complete answers the existing transaction with a duplicate code (bKash 2062, Nagad 409).

Scenario controls, per step ("bkash.grant", "bkash.create", "bkash.execute", "bkash.status",
"nagad.initialize", "nagad.complete", "nagad.verify"), for the next ``count`` calls:
- "lost_reply": carry the request out, then hold the reply ``hold_seconds`` (past the client's timeout)
- "hang": hold ``hold_seconds`` and close without doing anything
- "error": HTTP 500, nothing done; "rate_limited": HTTP 429 with Retry-After; "decline": insufficient balance
Also over HTTP: ``POST /__sandbox/script {"step", "outcome", "count"}``, ``GET /__sandbox/ledger``.
Payers that always decline: see ``DECLINING_PAYERS``. ``rendezvous(step, n)`` holds the next n calls
of a step until all n have arrived, to make concurrent requests really meet.

Nagad crypto is simplified as in ``celery_bridge/integrations/payments/nagad.py``: base64 JSON + HMAC-SHA256.
"""
import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

from ._json_http import JsonHttpFake, Reply

BKASH_CREDENTIALS = {"app_key": "sandbox-app-key", "app_secret": "sandbox-app-secret-42",
                     "username": "sandboxTokenizedUser", "password": "sandbox-password-42"}
NAGAD_MERCHANT_ID = "683002007104225"
NAGAD_API_KEY = "sandbox-nagad-key-42"
# payer -> (step it fails at, bKash code, message)
DECLINING_PAYERS = {
    "01700000000": ("execute", "2023", "Insufficient Balance"),
    "01700000001": ("create", "2048", "Invalid Payer Reference"),
}
OUTCOMES = ("lost_reply", "hang", "error", "rate_limited", "decline")
BKASH_DUPLICATE = ("2062", "The payment has already been completed")
NAGAD_DUPLICATE = "409"


def _now():
    return datetime.now().strftime("%Y-%m-%dT%H:%M:%S:000 GMT+0600")


def _amount(text):
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


class PaymentSandbox(JsonHttpFake):
    def __init__(self, hold_seconds=2.0, host="127.0.0.1"):
        super().__init__(host)
        self.hold_seconds = hold_seconds
        self.bkash_credentials = dict(BKASH_CREDENTIALS)
        self.nagad_merchant_id = NAGAD_MERCHANT_ID
        self.nagad_api_key = NAGAD_API_KEY
        self._lock = threading.RLock()
        self._ledger = {}  # (gateway, reference) -> charge
        self._tokens = set()  # bKash id_tokens still valid
        self._issued = set()  # every id_token ever granted
        self._bkash = {}  # paymentID -> payment
        self._nagad = {}  # paymentReferenceId -> order
        self._nagad_by_order = {}  # orderId -> paymentReferenceId
        self._scripts = []  # [step, outcome, calls left]
        self._meetings = {}  # step -> Barrier
        self._serial = itertools.count(1)
        self.calls = {}  # step -> number of requests received
        self.retry_after = 5

    # -- controls

    def script(self, step, outcome, count=1):
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        with self._lock:
            self._scripts.append([step, outcome, count])

    def rendezvous(self, step, parties):
        def done():
            self._meetings.pop(step, None)
        self._meetings[step] = threading.Barrier(parties, action=done, timeout=5)

    def tokens_issued(self):
        with self._lock:
            return set(self._issued)

    def expire_tokens(self):
        with self._lock:
            self._tokens.clear()

    def charges(self, gateway=None, reference=None):
        with self._lock:
            return [dict(charge) for (name, ref), charge in self._ledger.items()
                    if gateway in (None, name) and reference in (None, ref)]

    # -- dispatch

    def handle(self, method, path, headers, body):
        if path.startswith("/__sandbox/"):
            return self._admin(method, path, body)
        step, action, args = self._route(method, path)
        if step is None:
            return Reply(404, {"message": "no such endpoint"})
        with self._lock:
            self.calls[step] = self.calls.get(step, 0) + 1
            outcome = self._take_script(step)
        meeting = self._meetings.get(step)
        if meeting is not None:
            try:
                meeting.wait()
            except threading.BrokenBarrierError:
                pass
        if outcome == "error":
            return Reply(500, {"message": "scripted internal error"})
        if outcome == "rate_limited":
            return Reply(429, {"message": "too many requests"}, {"Retry-After": str(self.retry_after)})
        if outcome == "hang":
            self.stopping.wait(self.hold_seconds)
            return None
        reply = action(headers, body or {}, *args, decline=outcome == "decline")
        if outcome == "lost_reply":
            self.stopping.wait(self.hold_seconds)
        return reply

    def _take_script(self, step):
        for entry in self._scripts:
            if entry[0] == step:
                entry[2] -= 1
                if entry[2] <= 0:
                    self._scripts.remove(entry)
                return entry[1]
        return None

    def _route(self, method, path):
        parts = [unquote(part) for part in path.split("?")[0].strip("/").split("/")]
        bkash = {
            "tokenized/checkout/token/grant": ("bkash.grant", self._bkash_grant),
            "tokenized/checkout/create": ("bkash.create", self._bkash_create),
            "tokenized/checkout/execute": ("bkash.execute", self._bkash_execute),
            "tokenized/checkout/payment/status": ("bkash.status", self._bkash_status),
        }
        joined = "/".join(parts)
        if method == "POST" and joined in bkash:
            return (*bkash[joined], ())
        if method == "POST" and parts[:4] == ["api", "dfs", "check-out", "initialize"] and len(parts) == 6:
            return "nagad.initialize", self._nagad_initialize, tuple(parts[4:])
        if method == "POST" and parts[:4] == ["api", "dfs", "check-out", "complete"] and len(parts) == 5:
            return "nagad.complete", self._nagad_complete, (parts[4],)
        if method == "GET" and parts[:4] == ["api", "dfs", "verify", "payment"] and len(parts) == 5:
            return "nagad.verify", self._nagad_verify, (parts[4],)
        return None, None, ()

    def _admin(self, method, path, body):
        if method == "POST" and path == "/__sandbox/script":
            try:
                self.script(body["step"], body["outcome"], int(body.get("count", 1)))
            except (KeyError, TypeError, ValueError) as exc:
                return Reply(400, {"message": str(exc)})
            return Reply(200, {"ok": True})
        if method == "GET" and path == "/__sandbox/ledger":
            return Reply(200, {"charges": self.charges()})
        return Reply(404, {"message": "no such admin endpoint"})

    def _record(self, gateway, reference, amount, payer, transaction_id):
        self._ledger[(gateway, reference)] = {"gateway": gateway, "reference": reference, "amount": str(amount),
                                              "payer": payer, "transaction_id": transaction_id}

    # -- bKash

    def _bkash_grant(self, headers, body, decline):
        given = {"app_key": body.get("app_key"), "app_secret": body.get("app_secret"),
                 "username": headers.get("username"), "password": headers.get("password")}
        if given != self.bkash_credentials:
            return Reply(401, {"statusCode": "4001", "statusMessage": "Invalid username, password or app key"})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
            self._issued.add(token)
        return Reply(200, {"statusCode": "0000", "statusMessage": "Successful", "id_token": token,
                           "token_type": "Bearer", "expires_in": 3600, "refresh_token": secrets.token_urlsafe(24)})

    def _bkash_authorised(self, headers):
        with self._lock:
            return headers.get("Authorization") in self._tokens and \
                headers.get("X-APP-Key") == self.bkash_credentials["app_key"]

    def _bkash_create(self, headers, body, decline):
        if not self._bkash_authorised(headers):
            return Reply(401, {"message": "Unauthorized"})
        amount = _amount(body.get("amount"))
        if amount is None:
            return Reply(200, {"statusCode": "2006", "statusMessage": "Invalid amount"})
        if body.get("currency") != "BDT":
            return Reply(200, {"statusCode": "2007", "statusMessage": "Invalid currency"})
        if body.get("intent") != "sale":
            return Reply(200, {"statusCode": "2008", "statusMessage": "Invalid intent"})
        if not body.get("merchantInvoiceNumber"):
            return Reply(200, {"statusCode": "2031", "statusMessage": "Invalid merchant invoice number"})
        payer = str(body.get("payerReference") or "").strip()
        failing = DECLINING_PAYERS.get(payer)
        if failing and failing[0] == "create":
            return Reply(200, {"statusCode": failing[1], "statusMessage": failing[2]})
        payment_id = f"TR0011{secrets.token_hex(8).upper()}"
        payment = {"paymentID": payment_id, "amount": str(body["amount"]), "currency": "BDT", "intent": "sale",
                   "merchantInvoiceNumber": body["merchantInvoiceNumber"], "payerReference": payer,
                   "paymentCreateTime": _now(), "transactionStatus": "Initiated"}
        with self._lock:
            self._bkash[payment_id] = payment
        return Reply(200, dict(payment, bkashURL=f"{self.base_url}/checkout?paymentID={payment_id}",
                               callbackURL=body.get("callbackURL", ""), statusCode="0000", statusMessage="Successful"))

    def _bkash_execute(self, headers, body, decline):
        if not self._bkash_authorised(headers):
            return Reply(401, {"message": "Unauthorized"})
        with self._lock:  # check and charge as one step: two executes never both charge
            payment = self._bkash.get(body.get("paymentID"))
            if payment is None:
                return Reply(200, {"statusCode": "2002", "statusMessage": "Invalid Payment ID"})
            existing = self._ledger.get(("bkash", payment["merchantInvoiceNumber"]))
            if existing:
                return Reply(200, dict(payment, trxID=existing["transaction_id"], transactionStatus="Completed",
                                       statusCode=BKASH_DUPLICATE[0], statusMessage=BKASH_DUPLICATE[1]))
            if payment["transactionStatus"] != "Initiated":
                return Reply(200, {"statusCode": "2056", "statusMessage": "Invalid Payment State"})
            failing = DECLINING_PAYERS.get(payment["payerReference"])
            if decline or (failing and failing[0] == "execute"):
                payment["transactionStatus"] = "Failed"
                code, message = (failing[1], failing[2]) if failing else ("2023", "Insufficient Balance")
                return Reply(200, {"statusCode": code, "statusMessage": message})
            payment.update(transactionStatus="Completed", trxID=f"BK{next(self._serial):08d}",
                           paymentExecuteTime=_now(), customerMsisdn=payment["payerReference"])
            self._record("bkash", payment["merchantInvoiceNumber"], payment["amount"], payment["payerReference"],
                         payment["trxID"])
            return Reply(200, dict(payment, statusCode="0000", statusMessage="Successful"))

    def _bkash_status(self, headers, body, decline):
        if not self._bkash_authorised(headers):
            return Reply(401, {"message": "Unauthorized"})
        with self._lock:
            payment = self._bkash.get(body.get("paymentID"))
            if payment is None:
                return Reply(200, {"statusCode": "2002", "statusMessage": "Invalid Payment ID"})
            return Reply(200, dict(payment, statusCode="0000", statusMessage="Successful"))

    # -- Nagad

    def _sign(self, sealed):
        return base64.b64encode(hmac.new(self.nagad_api_key.encode(), sealed.encode(), hashlib.sha256).digest()).decode()

    def _unseal(self, body):
        """The decoded sensitiveData of a request, or None if its signature does not verify."""
        sealed = body.get("sensitiveData") or ""
        if not hmac.compare_digest(str(body.get("signature") or ""), self._sign(sealed)):
            return None
        try:
            return json.loads(base64.b64decode(sealed))
        except ValueError:
            return None

    def _nagad_initialize(self, headers, body, merchant_id, order_id, decline):
        data = self._unseal(body)
        if merchant_id != self.nagad_merchant_id or data is None:
            return Reply(401, {"reason": "InvalidSignature", "message": "Merchant or signature not valid"})
        if data.get("merchantId") != merchant_id or data.get("orderId") != order_id:
            return Reply(400, {"reason": "InvalidRequest", "message": "sensitiveData does not match the URL"})
        with self._lock:  # an order initialised twice keeps its payment reference
            payment_ref = self._nagad_by_order.get(order_id)
            if payment_ref is None:
                payment_ref = f"MDA{secrets.token_hex(8).upper()}"
                self._nagad_by_order[order_id] = payment_ref
                self._nagad[payment_ref] = {"orderId": order_id, "status": "Initiated", "challenges": set()}
            challenge = secrets.token_hex(20)
            self._nagad[payment_ref]["challenges"].add(challenge)
        sealed = base64.b64encode(json.dumps({"paymentReferenceId": payment_ref, "challenge": challenge,
                                              "acceptDateTime": _now()}).encode()).decode()
        return Reply(200, {"sensitiveData": sealed, "signature": self._sign(sealed)})

    def _nagad_complete(self, headers, body, payment_ref, decline):
        data = self._unseal(body)
        if data is None or data.get("merchantId") != self.nagad_merchant_id:
            return Reply(401, {"reason": "InvalidSignature", "message": "Merchant or signature not valid"})
        amount = _amount(data.get("amount"))
        if amount is None or data.get("currencyCode") != "050":
            return Reply(400, {"reason": "InvalidRequest", "message": "Invalid amount or currency"})
        payer = str((body.get("additionalMerchantInfo") or {}).get("payerReference") or "")
        with self._lock:
            order = self._nagad.get(payment_ref)
            if order is None or order["orderId"] != data.get("orderId") or \
                    data.get("challenge") not in order["challenges"]:
                return Reply(400, {"reason": "InvalidRequest", "message": "Unknown payment reference or challenge"})
            reply = {"paymentRefId": payment_ref, "orderId": order["orderId"], "amount": str(data["amount"])}
            existing = self._ledger.get(("nagad", order["orderId"]))
            if existing:
                return Reply(200, dict(reply, status="Success", statusCode=NAGAD_DUPLICATE,
                                       message="Order already paid", issuerPaymentRefNo=existing["transaction_id"]))
            if order["status"] != "Initiated":
                return Reply(200, dict(reply, status=order["status"], statusCode="400",
                                       message="Order already closed"))
            if decline or payer in DECLINING_PAYERS:
                order.update(status="Aborted", message="Insufficient balance")
                return Reply(200, dict(reply, status="Aborted", statusCode="2023", message="Insufficient balance"))
            transaction_id = f"NG{next(self._serial):08d}"
            order.update(status="Success", issuerPaymentRefNo=transaction_id, amount=str(data["amount"]),
                         clientMobileNo=payer, message="Payment successful")
            self._record("nagad", order["orderId"], data["amount"], payer, transaction_id)
            return Reply(200, dict(reply, status="Success", statusCode="000", message="Payment successful",
                                   issuerPaymentRefNo=transaction_id, issuerPaymentDateTime=_now()))

    def _nagad_verify(self, headers, body, payment_ref, decline):
        with self._lock:
            order = self._nagad.get(payment_ref)
            if order is None:
                return Reply(404, {"reason": "NotFound", "message": "Payment reference not found"})
            return Reply(200, {
                "merchantId": self.nagad_merchant_id, "orderId": order["orderId"], "paymentRefId": payment_ref,
                "amount": order.get("amount", ""), "clientMobileNo": order.get("clientMobileNo", ""),
                "issuerPaymentRefNo": order.get("issuerPaymentRefNo"), "status": order["status"],
                "statusCode": "000" if order["status"] == "Success" else "", "message": order.get("message", ""),
            })
