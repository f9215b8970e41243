"""Payments of spec B-009 §3.2 on celery:payment (2 min, 10 retries, critical priority).

Charging twice is the one thing that must never happen. Odoo gives each payment one job (its
idempotency key is the payment reference); the worker's claim stops a redelivered message; a Redis
lock per reference stops two runs charging at once; and every attempt after the first asks the
gateway first (``pay_once``), so a charge whose reply was lost is found instead of repeated.
"""
from celery_bridge.core import errors, protocol
from celery_bridge.worker import runtime
from celery_bridge.worker.context import job_context
from celery_bridge.celery import app
from celery_bridge.integrations.payments.gateway import COMPLETED, DECLINED, get_gateway, pay_once

LOCK_SECONDS = 150  # longer than the task's 2-minute hard limit


class RedisPaymentIds:
    """The gateway's payment id per reference, shared by every attempt on every worker."""

    def __init__(self, redis, gateway):
        self.redis = redis
        self.key = protocol.PAYMENT_IDS_PREFIX + gateway

    def get(self, reference, default=None):
        value = self.redis.hget(self.key, reference)
        return value.decode() if value is not None else default

    def __getitem__(self, reference):
        value = self.get(reference)
        if value is None:
            raise KeyError(reference)
        return value

    def __setitem__(self, reference, payment_id):
        self.redis.hset(self.key, reference, payment_id)

    def __contains__(self, reference):
        return bool(self.redis.hexists(self.key, reference))


@app.task(bind=True, name="smart_dairy.payment.process_payment")
def process_payment(self, reference, gateway, amount, currency="BDT", payer=None):
    """Charge ``amount`` for ``reference`` through ``gateway`` ("bkash" or "nagad").

    Returns ``{"status": "completed" | "declined", "transaction_id", "message"}``: a decline is an
    answer, not an error, and is not retried. Gateway outages and timeouts raise and are retried
    with backoff and jitter; after the last retry the job fails and lands in the dead-letter queue.
    """
    redis = runtime.redis()
    lock = redis.lock(protocol.PAYMENT_LOCK_PREFIX + reference, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        raise errors.RateLimited(f"another run is charging {reference}", retry_after=10)
    try:
        context = job_context(self.request)
        adapter = get_gateway(gateway, runtime.settings(), payment_ids=RedisPaymentIds(redis, gateway))
        outcome = pay_once(adapter, reference, amount, currency, payer,
                           may_have_reached_gateway=bool(context and (context.attempt > 1)) or reference in
                           adapter.payment_ids)
    finally:
        lock.release()
    if outcome.status not in (COMPLETED, DECLINED):
        raise errors.NetworkTimeout(f"{gateway} has payment {reference} still {outcome.raw_status or 'pending'}")
    return {"status": outcome.status, "transaction_id": outcome.transaction_id, "reference": reference,
            "gateway": gateway, "message": outcome.message}
