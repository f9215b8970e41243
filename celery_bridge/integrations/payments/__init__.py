"""Payment gateway adapters (bKash, Nagad) behind one interface; see ``gateway``."""
from celery_bridge.integrations.payments.gateway import (
    COMPLETED,
    DECLINED,
    PENDING,
    ChargeResult,
    PaymentGateway,
    get_gateway,
    pay_once,
)
