"""YooKassa API v3 emulator: payments, autopayments, refunds, receipts, idempotence keys
and notifications.

``create_app(YooKassaEmulator(...))`` serves the API under ``/v3`` and test controls under
``/sandbox``; ``YooKassaSandboxControl`` drives those controls: the user paying, the bank
declining or holding a charge or a refund, an outage of the API and single 500/429
answers. See ``shared/reference/payments.md`` §1 for the behaviour emulated.
"""

from sandbox.control import SandboxControlError
from sandbox.yookassa.app import create_app
from sandbox.yookassa.config import CONFIRMATION_URL_BASE, DeliveryPolicy, YooKassaConfig
from sandbox.yookassa.control import YooKassaSandboxControl
from sandbox.yookassa.emulator import Notification, YooKassaEmulator
from sandbox.yookassa.errors import ApiError
from sandbox.yookassa.model import PaymentStatus, RefundStatus, Shop
from sandbox.yookassa.money import Amount
from sandbox.yookassa.notifications import DeliveryAttempt, NotificationDispatcher

__all__ = [
    "CONFIRMATION_URL_BASE",
    "Amount",
    "ApiError",
    "DeliveryAttempt",
    "DeliveryPolicy",
    "Notification",
    "NotificationDispatcher",
    "PaymentStatus",
    "RefundStatus",
    "SandboxControlError",
    "Shop",
    "YooKassaConfig",
    "YooKassaEmulator",
    "YooKassaSandboxControl",
    "create_app",
]
