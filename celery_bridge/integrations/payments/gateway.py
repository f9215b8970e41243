"""What every payment gateway adapter offers, and the one safe way to charge: ``pay_once``.

A *reference* (the merchant's invoice / order number) names one payment attempt. Adapters never
complete two payments for one reference as long as the gateway dedupes by it or the adapter's
``payment_ids`` mapping (reference -> the gateway's payment id) is shared between attempts.

Outcomes: a completed or declined payment is a ``ChargeResult``; a decline is an answer, not an
error (the caller fails the job without retrying). No reply, 5xx, a dropped connection ->
``errors.NetworkTimeout`` (retry, with ``may_have_reached_gateway=True``); 429 -> ``RateLimited``;
refused credentials -> ``PermissionDenied``. No secret (app secret, password, token, API key) is
ever put in a result, an exception or a log line.
"""
import abc
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Optional

from celery_bridge.core import errors
from celery_bridge.core.payment_reference import REFERENCE

COMPLETED = "completed"
DECLINED = "declined"
PENDING = "pending"


class ChargeResult(NamedTuple):
    status: str  # COMPLETED, DECLINED or PENDING
    transaction_id: Optional[str]  # the gateway's transaction id once completed
    raw_status: str  # the gateway's own word for it, for the audit trail
    message: str = ""  # why, in the gateway's words (e.g. "Insufficient Balance")


class PaymentGateway(abc.ABC):
    name = ""

    @abc.abstractmethod
    def charge(self, reference, amount, currency, payer, idempotency_key=None) -> ChargeResult:
        """Take ``amount`` from ``payer`` for ``reference``.

        Charging a reference that was already charged returns that payment instead of a second one.
        """

    @abc.abstractmethod
    def query(self, reference) -> ChargeResult:
        """Where the payment for ``reference`` stands; ``errors.NotFound`` if the gateway has none."""


def pay_once(gateway, reference, amount, currency, payer, idempotency_key=None, may_have_reached_gateway=False):
    """Charge ``reference`` unless an earlier attempt already settled it.

    Pass ``may_have_reached_gateway=True`` on every retry after a ``NetworkTimeout``: the earlier
    request may have been carried out with its reply lost. The gateway is asked first, and a payment
    it already completed (or declined) is returned as it is; a pending one is resumed by ``charge``.
    """
    if may_have_reached_gateway:
        try:
            earlier = gateway.query(reference)
        except errors.NotFound:
            earlier = None
        if earlier is not None and earlier.status in (COMPLETED, DECLINED):
            return earlier
    return gateway.charge(reference, amount, currency, payer, idempotency_key or reference)


def checked_amount(amount, currency, currencies=("BDT",)):
    """``amount`` as a two-decimal string, or ``InvalidInput``."""
    if currency not in currencies:
        raise errors.InvalidInput(f"currency {currency!r} not accepted (only {', '.join(currencies)})")
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise errors.InvalidInput(f"amount {amount!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise errors.InvalidInput(f"amount {amount!r} must be positive")
    return str(value)


def checked_reference(reference):
    """``reference`` if it is an invoice / order number both gateways take (at most 64 characters)."""
    if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
        raise errors.InvalidInput(f"payment reference {reference!r} must be 1-64 letters, digits, _ . / -")
    return reference


def get_gateway(name, settings, payment_ids=None, session=None):
    """The adapter for ``name`` ("bkash" or "nagad") configured from ``settings``.

    ``payment_ids`` is where the adapter remembers the gateway's payment id for each reference;
    give every attempt of a job the same mapping (Redis hash, Odoo field) so a retry in another
    worker can ask about the earlier attempt. Default: a dict of this process.
    """
    from celery_bridge.integrations.payments.bkash import BkashGateway  # the adapters import this module
    from celery_bridge.integrations.payments.nagad import NagadGateway

    adapters = {"bkash": BkashGateway, "nagad": NagadGateway}
    if name not in adapters:
        raise errors.InvalidInput(f"unknown payment gateway {name!r} (known: {', '.join(sorted(adapters))})")
    return adapters[name].from_settings(settings, payment_ids=payment_ids, session=session)
