"""Objects quoted in shared/reference/payments.md §1, to compare shapes against."""

from __future__ import annotations

import re
from typing import Any, Final

PAYMENT_ID: Final = re.compile(r"[0-9a-f]{8}-000f-5000-[89ab]000-[0-9a-f]{12}")
REFUND_ID: Final = re.compile(r"[0-9a-f]{8}-0015-5000-[89ab]000-[0-9a-f]{12}")
TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ERROR_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

# §1.5, as returned by create.
PENDING_PAYMENT: Final[dict[str, Any]] = {
    "id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
    "status": "pending",
    "paid": False,
    "amount": {"value": "299.00", "currency": "RUB"},
    "confirmation": {
        "type": "redirect",
        "return_url": "https://t.me/MyVpnBot?start=paid",
        "confirmation_url": "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId=2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
    },
    "created_at": "2025-01-15T10:00:00.000Z",
    "description": "VPN, 1 месяц, заказ 1042",
    "metadata": {"order_id": "1042", "tg_user_id": "123456789", "plan": "m1"},
    "recipient": {"account_id": "123456", "gateway_id": "1234567"},
    "refundable": False,
    "test": True,
}

# §1.11, a payment.succeeded notification (one-stage, with a receipt and a saved card).
SUCCEEDED_NOTIFICATION: Final[dict[str, Any]] = {
    "type": "notification",
    "event": "payment.succeeded",
    "object": {
        "id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
        "status": "succeeded",
        "paid": True,
        "amount": {"value": "299.00", "currency": "RUB"},
        "income_amount": {"value": "288.54", "currency": "RUB"},
        "description": "VPN, 1 месяц, заказ 1042",
        "recipient": {"account_id": "123456", "gateway_id": "1234567"},
        "payment_method": {
            "type": "bank_card",
            "id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
            "saved": True,
            "title": "Bank card *4477",
            "card": {
                "first6": "555555",
                "last4": "4477",
                "expiry_month": "12",
                "expiry_year": "2030",
                "card_type": "MasterCard",
            },
        },
        "captured_at": "2025-01-15T10:01:05.000Z",
        "created_at": "2025-01-15T10:00:00.000Z",
        "test": True,
        "refunded_amount": {"value": "0.00", "currency": "RUB"},
        "refundable": True,
        "receipt_registration": "succeeded",
        "metadata": {"order_id": "1042", "tg_user_id": "123456789", "plan": "m1"},
        "authorization_details": {
            "rrn": "603668680243",
            "auth_code": "000000",
            "three_d_secure": {"applied": False},
        },
    },
}

# §1.5 lists one more card field than the notification sample.
CARD_KEYS: Final = set(SUCCEEDED_NOTIFICATION["object"]["payment_method"]["card"]) | {
    "issuer_country"
}

# §1.8
REFUND: Final[dict[str, Any]] = {
    "id": "2f8a6b5c-0015-5000-8000-1c2d3e4f5a6b",
    "payment_id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
    "status": "succeeded",
    "amount": {"value": "299.00", "currency": "RUB"},
    "created_at": "2025-01-16T09:00:00.000Z",
    "description": "Возврат по заявке 55",
    "receipt_registration": "succeeded",
}

# §1.2, the canonical body; only "id" differs from one error to the next.
IDEMPOTENCE_KEY_DUPLICATED: Final[dict[str, Any]] = {
    "type": "error",
    "id": "ab5a11cd-13cc-4e33-af8b-75a74e18dd09",
    "code": "invalid_request",
    "description": "Idempotence key duplicated",
    "parameter": "Idempotence-Key",
}
