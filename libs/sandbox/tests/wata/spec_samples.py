"""Objects and code quoted in shared/reference/payments.md §2, to compare against."""

from __future__ import annotations

import base64
import re
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

GUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MILLIS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
MICROS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")

# §2.3, the answer to POST /links.
LINK: Final[dict[str, Any]] = {
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "amount": 299.00,
    "currency": "RUB",
    "status": "Opened",
    "url": "https://payment.wata.pro/pay-form/3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "terminalName": "MyVpn",
    "terminalPublicId": "3fa85f22-2108-1749-a7gj-9c134g55hkl0",
    "creationTime": "2025-01-15T10:00:00.000Z",
    "orderId": "1042",
    "description": "VPN, 1 месяц",
    "successRedirectUrl": "https://t.me/MyVpnBot?start=paid",
    "failRedirectUrl": "https://t.me/MyVpnBot?start=failed",
    "expirationDateTime": "2025-01-15T11:00:00Z",
}

# §2.5, GET /transactions/{id}.
TRANSACTION: Final[dict[str, Any]] = {
    "id": "3a16a4f0-27b0-09d1-16da-ba8d5c63eae3",
    "terminalName": "MyVpn",
    "terminalPublicId": "3fa85f22-…",
    "type": "CardCrypto",
    "kind": "Payment",
    "amount": 299.00,
    "currency": "RUB",
    "status": "Paid",
    "errorCode": None,
    "errorDescription": None,
    "orderId": "1042",
    "orderDescription": "VPN, 1 месяц",
    "creationTime": "2025-01-15T10:00:05Z",
    "paymentTime": "2025-01-15T10:01:10Z",
    "totalCommission": 8.97,
    "sbpLink": None,
    "paymentLinkId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
}

# §2.8, the webhook payload.
WEBHOOK: Final[dict[str, Any]] = {
    "transactionType": "CardCrypto",
    "kind": "Payment",
    "transactionId": "3a16a4f0-27b0-09d1-16da-ba8d5c63eae3",
    "transactionStatus": "Paid",
    "errorCode": None,
    "errorDescription": None,
    "terminalName": "MyVpn",
    "terminalPublicId": "3fa85f22-2108-1749-a7gj-9c134g55hkl0",
    "amount": 299.00,
    "currency": "RUB",
    "orderId": "1042",
    "orderDescription": "VPN, 1 месяц",
    "paymentTime": "2025-01-15T10:01:10.434598Z",
    "commission": 8.97,
    "email": None,
    "paymentLinkId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
}

# §2.7, a 400 for a request without an amount.
MISSING_AMOUNT: Final[dict[str, Any]] = {
    "error": {
        "code": None,
        "message": "Your request is invalid!",
        "details": "The following validation errors were found – 'Amount' is required.",
        "data": {},
        "validationErrors": [{"message": "'Amount' is required.", "members": ["amount"]}],
    }
}

# §2.8, unchanged: the check every receiver of these webhooks should make.


def wata_verify(raw_body: bytes, x_signature: str, public_key_pem: str) -> bool:
    try:
        key = serialization.load_pem_public_key(public_key_pem.replace("\\n", "\n").encode())
        key.verify(
            base64.b64decode(x_signature.strip()), raw_body, padding.PKCS1v15(), hashes.SHA512()
        )
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
