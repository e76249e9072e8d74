"""WATA H2H acquiring emulator: payment links, transactions, refunds and signed webhooks.

``create_app(WataEmulator(...))`` serves the API under ``/api/h2h`` and test controls under
``/sandbox``; ``WataSandboxControl`` drives those controls. Webhooks carry ``X-Signature``,
RSA PKCS#1 v1.5 over SHA-512 of the exact bytes POSTed, verifiable with the key served at
``/api/h2h/public-key``. See ``shared/reference/payments.md`` §2 for the behaviour emulated.
"""

from sandbox.control import SandboxControlError
from sandbox.wata.app import create_app
from sandbox.wata.config import (
    PAYMENT_FORM_URL_BASE,
    WATA_WEBHOOK_IP,
    DeliveryPolicy,
    WataConfig,
)
from sandbox.wata.control import WataSandboxControl
from sandbox.wata.emulator import Settlement, WataEmulator, Webhook
from sandbox.wata.errors import ERROR_DESCRIPTIONS, ApiError
from sandbox.wata.model import (
    AccessToken,
    LinkStatus,
    LinkType,
    Terminal,
    TransactionKind,
    TransactionStatus,
    TransactionType,
)
from sandbox.wata.notifications import SIGNATURE_HEADER, DeliveryAttempt, WebhookDispatcher
from sandbox.wata.signing import SigningKey

__all__ = [
    "ERROR_DESCRIPTIONS",
    "PAYMENT_FORM_URL_BASE",
    "SIGNATURE_HEADER",
    "WATA_WEBHOOK_IP",
    "AccessToken",
    "ApiError",
    "DeliveryAttempt",
    "DeliveryPolicy",
    "LinkStatus",
    "LinkType",
    "SandboxControlError",
    "Settlement",
    "SigningKey",
    "Terminal",
    "TransactionKind",
    "TransactionStatus",
    "TransactionType",
    "WataConfig",
    "WataEmulator",
    "WataSandboxControl",
    "Webhook",
    "WebhookDispatcher",
    "create_app",
]
