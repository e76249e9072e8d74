"""Terminals, payment links and transactions as the emulator keeps them, and their API objects.

Field names, their order and null-versus-absent follow shared/reference/payments.md §2.3
(link), §2.5 (transaction) and §2.8 (webhook payload). Amounts are ``Decimal`` with two
places and leave as JSON numbers (``299.00``), see ``wire.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from sandbox.wata.identifiers import (
    format_instant,
    format_micros,
    format_millis,
    sequential_guid,
)

JsonObject = dict[str, Any]

CENT: Final = Decimal("0.01")
CURRENCIES: Final = ("RUB", "USD", "EUR")
MIN_LINK_AMOUNT: Final = {"RUB": Decimal(10), "USD": Decimal(1), "EUR": Decimal(1)}
MAX_LINK_AMOUNT: Final = Decimal("999999.99")
MAX_TOKENS: Final = 5
MAX_AMOUNT_PROMPTS: Final = 6


class LinkStatus(StrEnum):
    OPENED = "Opened"
    CLOSED = "Closed"


class LinkType(StrEnum):
    ONE_TIME = "OneTime"
    MANY_TIME = "ManyTime"


class TransactionStatus(StrEnum):
    CREATED = "Created"
    PENDING = "Pending"
    PAID = "Paid"
    DECLINED = "Declined"

    @property
    def final(self) -> bool:
        return self in (TransactionStatus.PAID, TransactionStatus.DECLINED)


class TransactionKind(StrEnum):
    PAYMENT = "Payment"
    REFUND = "Refund"


class TransactionType(StrEnum):
    CARD_CRYPTO = "CardCrypto"
    SBP = "SBP"
    TPAY = "TPay"


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


@dataclass(frozen=True)
class AccessToken:
    """One of a terminal's bearer tokens; WATA issues them for 1 to 12 months."""

    value: str
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_json(self) -> JsonObject:
        expires = None if self.expires_at is None else format_instant(self.expires_at)
        return {"value": self.value, "expiresAt": expires}


@dataclass
class Terminal:
    """A merchant terminal: its tokens imply it, so API requests never name it."""

    name: str
    tokens: Sequence[AccessToken | str]
    public_id: str = field(default_factory=lambda: sequential_guid(datetime.now(UTC)))
    webhook_url: str | None = None
    send_pay_webhook: bool = True
    send_pay_webhook_on_decline: bool = True
    send_refund_webhook: bool = True
    # False on "Цифровые товары + Эквайринг" terminals, where refunds are not available.
    refunds_enabled: bool = True
    payment_methods: Sequence[str] = tuple(TransactionType)

    def __post_init__(self) -> None:
        if not 1 <= len(self.tokens) <= MAX_TOKENS:
            raise ValueError(f"a terminal has 1 to {MAX_TOKENS} tokens")
        self.payment_methods = tuple(TransactionType(method) for method in self.payment_methods)

    @property
    def access_tokens(self) -> tuple[AccessToken, ...]:
        return tuple(t if isinstance(t, AccessToken) else AccessToken(t) for t in self.tokens)

    @property
    def methods(self) -> tuple[TransactionType, ...]:
        return tuple(TransactionType(method) for method in self.payment_methods)

    def settings(self) -> JsonObject:
        """What the control API shows, in the names of the cabinet's terminal settings."""
        return {
            "name": self.name,
            "publicId": self.public_id,
            "tokens": [token.to_json() for token in self.access_tokens],
            "webhookUrl": self.webhook_url,
            "sendPayWebhook": self.send_pay_webhook,
            "sendPayWebhookOnDecline": self.send_pay_webhook_on_decline,
            "sendRefundWebhook": self.send_refund_webhook,
            "refundsEnabled": self.refunds_enabled,
            "paymentMethods": [method.value for method in self.methods],
        }


@dataclass
class PaymentLink:
    id: str
    sequence: int
    terminal_public_id: str
    terminal_name: str
    url: str
    amount: Decimal
    currency: str
    type: LinkType
    creation_time: datetime
    expiration_time: datetime
    order_id: str | None = None
    description: str | None = None
    success_redirect_url: str | None = None
    fail_redirect_url: str | None = None
    is_arbitrary_amount_allowed: bool = False
    email: str | None = None
    # Optional request fields the reference's example does not show; echoed only if sent.
    extras: JsonObject = field(default_factory=dict)
    status: LinkStatus = LinkStatus.OPENED

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "amount": money(self.amount),
            "currency": self.currency,
            "status": self.status.value,
            "url": self.url,
            "terminalName": self.terminal_name,
            "terminalPublicId": self.terminal_public_id,
            "creationTime": format_millis(self.creation_time),
            "orderId": self.order_id,
            "description": self.description,
            "successRedirectUrl": self.success_redirect_url,
            "failRedirectUrl": self.fail_redirect_url,
            "expirationDateTime": format_instant(self.expiration_time),
            **self.extras,
        }


@dataclass
class Transaction:
    id: str
    sequence: int
    terminal_public_id: str
    terminal_name: str
    type: TransactionType
    kind: TransactionKind
    amount: Decimal
    currency: str
    creation_time: datetime
    payment_link_id: str | None
    order_id: str | None
    order_description: str | None
    email: str | None = None
    original_transaction_id: str | None = None
    status: TransactionStatus = TransactionStatus.PENDING
    error_code: str | None = None
    error_description: str | None = None
    payment_time: datetime | None = None
    commission: Decimal = Decimal("0.00")

    def to_json(self) -> JsonObject:
        """The object of ``GET /transactions/{id}`` (commission named ``totalCommission``)."""
        return {
            "id": self.id,
            "terminalName": self.terminal_name,
            "terminalPublicId": self.terminal_public_id,
            "type": self.type.value,
            "kind": self.kind.value,
            "amount": money(self.amount),
            "currency": self.currency,
            "status": self.status.value,
            "errorCode": self.error_code,
            "errorDescription": self.error_description,
            "orderId": self.order_id,
            "orderDescription": self.order_description,
            "creationTime": format_micros(self.creation_time),
            "paymentTime": None if self.payment_time is None else format_micros(self.payment_time),
            "totalCommission": money(self.commission),
            "sbpLink": None,
            "paymentLinkId": self.payment_link_id,
        }

    def webhook_payload(self) -> JsonObject:
        """The post-payment or refund webhook body (commission named ``commission``)."""
        return {
            "transactionType": self.type.value,
            "kind": self.kind.value,
            "transactionId": self.id,
            "transactionStatus": self.status.value,
            "errorCode": self.error_code,
            "errorDescription": self.error_description,
            "terminalName": self.terminal_name,
            "terminalPublicId": self.terminal_public_id,
            "amount": money(self.amount),
            "currency": self.currency,
            "orderId": self.order_id,
            "orderDescription": self.order_description,
            "paymentTime": None if self.payment_time is None else format_micros(self.payment_time),
            "commission": money(self.commission),
            "email": self.email,
            "paymentLinkId": self.payment_link_id,
        }

    def refund_response(self) -> JsonObject:
        """The answer to ``POST /transactions/refunds``: the webhook's fields and the original."""
        body = self.webhook_payload()
        return {
            "transactionType": body.pop("transactionType"),
            "kind": body.pop("kind"),
            "transactionId": body.pop("transactionId"),
            "originalTransactionId": self.original_transaction_id,
            **body,
        }
