"""Shops, payments and refunds as the emulator keeps them, and their API objects."""

from __future__ import annotations

import copy
import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sandbox.yookassa.identifiers import format_timestamp, random_digits
from sandbox.yookassa.money import Amount

JsonObject = dict[str, Any]

PAYMENT_METHOD_TYPES: Final = frozenset(
    {
        "bank_card",
        "yoo_money",
        "sbp",
        "sberbank",
        "tinkoff_bank",
        "sber_loan",
        "mobile_balance",
        "b2b_sberbank",
        "cash",
        "qiwi",
        "alfabank",
        "webmoney",
        "wechat",
        "installments",
        "apple_pay",
        "google_pay",
    }
)
SAVABLE_METHOD_TYPES: Final = frozenset({"bank_card", "yoo_money", "sbp"})

PAYMENT_CANCELLATION_PARTIES: Final = frozenset({"merchant", "yoo_money", "payment_network"})
PAYMENT_CANCELLATION_REASONS: Final = frozenset(
    {
        "3d_secure_failed",
        "call_issuer",
        "canceled_by_merchant",
        "card_expired",
        "country_forbidden",
        "deal_expired",
        "expired_on_capture",
        "expired_on_confirmation",
        "fraud_suspected",
        "general_decline",
        "identification_required",
        "insufficient_funds",
        "internal_timeout",
        "invalid_card_number",
        "invalid_csc",
        "issuer_unavailable",
        "payment_method_limit_exceeded",
        "payment_method_restricted",
        "permission_revoked",
        "unsupported_mobile_operator",
        "rejected_by_timeout",
        "loan_declined",
        "loan_declined_by_payer",
        "loan_application_expired",
    }
)
REFUND_CANCELLATION_PARTIES: Final = frozenset({"yoo_money", "payment_network", "refund_network"})
REFUND_CANCELLATION_REASONS: Final = frozenset(
    {
        "insufficient_funds",
        "general_decline",
        "rejected_by_payee",
        "yoo_money_account_closed",
        "payment_basket_id_not_found",
        "payment_article_number_not_found",
        "payment_tru_code_not_found",
        "too_many_refunding_articles",
        "some_articles_already_refunded",
        "rejected_by_timeout",
    }
)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"

    @property
    def event(self) -> str | None:
        """The notification sent on reaching this status; none for ``pending``."""
        return None if self is PaymentStatus.PENDING else f"payment.{self.value}"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@dataclass
class Shop:
    shop_id: str
    secret_key: str
    notification_url: str | None = None
    fiscalization_enabled: bool = False
    test: bool = True
    gateway_id: str = ""
    payment_methods: tuple[str, ...] = ("bank_card", "yoo_money", "sbp")
    autopayments_enabled: bool = True

    def __post_init__(self) -> None:
        if not self.gateway_id:
            # Stable per shop, so that recipients compare equal across runs.
            digest = int.from_bytes(hashlib.sha256(self.shop_id.encode()).digest()[:4], "big")
            self.gateway_id = str(1_000_000 + digest % 9_000_000)

    def recipient(self) -> JsonObject:
        return {"account_id": self.shop_id, "gateway_id": self.gateway_id}

    def me(self) -> JsonObject:
        return {
            "account_id": self.shop_id,
            "test": self.test,
            "fiscalization_enabled": self.fiscalization_enabled,
            "payment_methods": list(self.payment_methods),
            "status": "enabled",
        }

    def settings(self) -> JsonObject:
        """What the control API shows; the secret key stays out of it."""
        return {
            "shop_id": self.shop_id,
            "notification_url": self.notification_url,
            "fiscalization_enabled": self.fiscalization_enabled,
            "test": self.test,
            "gateway_id": self.gateway_id,
            "payment_methods": list(self.payment_methods),
            "autopayments_enabled": self.autopayments_enabled,
        }


@dataclass(frozen=True)
class CancellationDetails:
    party: str
    reason: str

    def to_json(self) -> JsonObject:
        return {"party": self.party, "reason": self.reason}


@dataclass
class Payment:
    id: str
    shop_id: str
    sequence: int
    amount: Amount
    capture: bool
    created_at: datetime
    recipient: JsonObject
    test: bool
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    confirmation: JsonObject | None = None
    receipt: JsonObject | None = None
    save_payment_method: bool = False
    merchant_customer_id: str | None = None
    status: PaymentStatus = PaymentStatus.PENDING
    payment_method: JsonObject | None = None
    authorization_details: JsonObject | None = None
    expires_at: datetime | None = None
    captured_at: datetime | None = None
    income_amount: Amount | None = None
    refunded_minor: int = 0
    # Pending refunds hold their amount: it can be neither refunded again nor shown as returned.
    reserved_refund_minor: int = 0
    cancellation: CancellationDetails | None = None
    saved_method_id: str | None = None
    events: list[str] = field(default_factory=list)

    @property
    def paid(self) -> bool:
        return self.status in (PaymentStatus.WAITING_FOR_CAPTURE, PaymentStatus.SUCCEEDED)

    @property
    def refundable_minor(self) -> int:
        if self.status is not PaymentStatus.SUCCEEDED:
            return 0
        return self.amount.minor - self.refunded_minor - self.reserved_refund_minor

    def to_json(self) -> JsonObject:
        """The payment object of the API, a fresh copy each time."""
        body: JsonObject = {
            "id": self.id,
            "status": self.status.value,
            "paid": self.paid,
            "amount": self.amount.to_json(),
        }
        if self.income_amount is not None:
            body["income_amount"] = self.income_amount.to_json()
        # The confirmation is only there while the user still has to confirm.
        if self.confirmation is not None and self.status is PaymentStatus.PENDING:
            body["confirmation"] = self.confirmation
        if self.authorization_details is not None:
            body["authorization_details"] = self.authorization_details
        if self.captured_at is not None:
            body["captured_at"] = format_timestamp(self.captured_at)
        body["created_at"] = format_timestamp(self.created_at)
        if self.description is not None:
            body["description"] = self.description
        if self.expires_at is not None and self.status is PaymentStatus.WAITING_FOR_CAPTURE:
            body["expires_at"] = format_timestamp(self.expires_at)
        body["metadata"] = self.metadata
        if self.payment_method is not None:
            body["payment_method"] = self.payment_method
        body["recipient"] = self.recipient
        if self.status is PaymentStatus.SUCCEEDED:
            body["refunded_amount"] = self.amount.with_minor(self.refunded_minor).to_json()
        body["refundable"] = self.refundable_minor > 0
        if self.receipt is not None and self.status is PaymentStatus.SUCCEEDED:
            body["receipt_registration"] = "succeeded"
        if self.cancellation is not None:
            body["cancellation_details"] = self.cancellation.to_json()
        if self.merchant_customer_id is not None:
            body["merchant_customer_id"] = self.merchant_customer_id
        body["test"] = self.test
        return copy.deepcopy(body)


@dataclass
class Refund:
    id: str
    payment_id: str
    shop_id: str
    sequence: int
    amount: Amount
    created_at: datetime
    description: str | None = None
    receipt: JsonObject | None = None
    status: RefundStatus = RefundStatus.SUCCEEDED
    cancellation: CancellationDetails | None = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {
            "id": self.id,
            "payment_id": self.payment_id,
            "status": self.status.value,
        }
        if self.cancellation is not None:
            body["cancellation_details"] = self.cancellation.to_json()
        body["amount"] = self.amount.to_json()
        body["created_at"] = format_timestamp(self.created_at)
        if self.description is not None:
            body["description"] = self.description
        if self.receipt is not None:
            # The refund receipt is registered once the refund itself is settled.
            body["receipt_registration"] = self.status.value
        return copy.deepcopy(body)


@dataclass(frozen=True)
class PlannedOutcome:
    """What the bank does with the next charge of a saved method, or with the next refund.

    ``status`` is the status the object is created in; ``cancellation`` goes with
    ``canceled``.
    """

    status: str
    cancellation: CancellationDetails | None = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {"status": self.status}
        if self.cancellation is not None:
            body["cancellation_details"] = self.cancellation.to_json()
        return body


@dataclass
class SavedPaymentMethod:
    id: str
    shop_id: str
    details: JsonObject
    revoked: bool = False
    planned_charges: deque[PlannedOutcome] = field(default_factory=deque)
    charges: list[str] = field(default_factory=list)

    def state(self) -> JsonObject:
        """What the control API shows about the method."""
        return {
            "id": self.id,
            "shop_id": self.shop_id,
            "type": self.details.get("type"),
            "revoked": self.revoked,
            "planned_charges": [outcome.to_json() for outcome in self.planned_charges],
            "charges": list(self.charges),
        }


def payment_method_details(method_type: str, method_id: str, *, saved: bool) -> JsonObject:
    """What a payment method looks like once the user has paid with it (test data)."""
    details: JsonObject = {"type": method_type, "id": method_id, "saved": saved}
    if method_type == "bank_card":
        details["title"] = "Bank card *4477"
        details["card"] = {
            "first6": "555555",
            "last4": "4477",
            "expiry_month": "12",
            "expiry_year": "2030",
            "card_type": "MasterCard",
            "issuer_country": "RU",
        }
    elif method_type == "yoo_money":
        account = "4100" + random_digits(11)
        details["title"] = f"YooMoney wallet {account}"
        details["account_number"] = account
    elif method_type == "sbp":
        details["title"] = "SBP"
        details["sbp_operation_id"] = "1" + random_digits(15)
        details["payer_bank_details"] = {"bank_id": "100000000111", "bic": "044525225"}
    return details


def card_authorization_details() -> JsonObject:
    return {
        "rrn": random_digits(12),
        "auth_code": random_digits(6),
        "three_d_secure": {"applied": False},
    }
