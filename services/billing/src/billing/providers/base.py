"""The seam every payment provider sits behind, in provider-neutral terms.

A provider module (``yookassa.py``, ``wata.py``, ...) turns its API into these types and
nothing else leaks out: orders, the ledger and subscriptions never see a provider's field
names. Calls may be slow or fail; they are made by workers, never inside a consumer's
transaction. Errors are of two kinds: :class:`ProviderUnavailable` (no definite answer:
try again, with the same idempotence key) and :class:`ProviderRejected` (a definite no).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from contracts.billing import TelegramInvoice
from contracts.money import Money


class ProviderError(Exception):
    """Any failure talking to a provider."""


class ProviderUnavailable(ProviderError):
    """No definite answer (a 5xx, a timeout, a rate limit): the same call may be repeated."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderRejected(ProviderError):
    """A definite refusal: repeating the same call cannot succeed."""

    def __init__(self, message: str, *, code: str = "rejected") -> None:
        super().__init__(message)
        self.code = code


class PaymentNotFound(ProviderRejected):
    """The provider has no payment with this id."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_found")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do, so that checkout, refunds and autopay ask before they try."""

    currencies: frozenset[str]
    refunds: bool = True
    partial_refunds: bool = True
    recurring: bool = False
    """Saves a payment method that later charges need no customer for (autopay)."""
    min_amount_minor: Mapping[str, int] = field(default_factory=dict)
    max_amount_minor: Mapping[str, int] = field(default_factory=dict)
    receipts: bool = False
    """Carries a 54-FZ receipt with the payment (the provider fiscalizes it)."""

    def accepts(self, amount: Money) -> bool:
        if amount.currency not in self.currencies:
            return False
        low = self.min_amount_minor.get(amount.currency, 1)
        high = self.max_amount_minor.get(amount.currency)
        return amount.amount_minor >= low and (high is None or amount.amount_minor <= high)


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    description: str
    amount: Money
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class Receipt:
    """A 54-FZ receipt: who gets it and what was sold (``payments.md`` §1.9)."""

    email: str
    lines: tuple[ReceiptLine, ...]
    vat_code: int
    payment_subject: str = "service"
    payment_mode: str = "full_payment"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One payment to create for one order; ``idempotence_key`` names it on every retry."""

    order_id: UUID
    idempotence_key: str
    amount: Money
    description: str
    """Shown to the customer by the provider, in the customer's language."""
    title: str
    """A short name of what is sold (an invoice's title where the provider shows one)."""
    customer_id: UUID
    return_url: str
    expires_at: datetime | None = None
    save_method: bool = False
    """Ask the provider to keep the method for later charges (consent was given)."""
    saved_method_id: str | None = None
    """Charge a method saved earlier, without the customer (an autopay)."""
    receipt: Receipt | None = None
    telegram_user_id: int | None = None
    attempt: int = 1
    """1 for the first try; a later one follows a try whose outcome is unknown, so a provider
    without idempotence keys looks for what that try may have created before creating."""
    language: str = "ru"
    """The customer's language tag, for providers whose pages take a locale."""


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class SavedMethod:
    """A payment method the provider keeps for later charges."""

    method_id: str
    title: str


@dataclass(frozen=True, slots=True)
class PaymentState:
    """A payment as the provider vouches for it (fetched from it, or signed by it)."""

    provider_payment_id: str
    status: PaymentStatus
    amount: Money
    order_ref: str | None
    """Our order id as the provider carries it back (metadata, orderId, payload)."""
    occurred_at: datetime | None = None
    cancellation_party: str | None = None
    cancellation_reason: str | None = None
    saved_method: SavedMethod | None = None
    charge_id: str | None = None
    """The provider's id of the charge itself, when refunds name it rather than the payment
    (a WATA transaction, a Telegram payment charge)."""
    final: bool = True
    """False for an attempt that failed while the payment can still succeed (a WATA link
    stays open after a declined card)."""


@dataclass(frozen=True, slots=True)
class CreatedPayment:
    provider_payment_id: str
    confirmation_url: str | None
    """Where the customer pays; none for a charge that needs no customer (an autopay)."""
    expires_at: datetime | None = None
    settled: PaymentState | None = None
    """The outcome, when creating it already decided it (a saved method charged at once)."""
    chat_invoice: TelegramInvoice | None = None
    """The invoice the bot sends into the chat, where the customer pays there (Telegram
    Stars) rather than on the page behind the confirmation URL alone."""


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    idempotence_key: str
    provider_payment_id: str
    amount: Money
    description: str
    charge_id: str | None = None
    """``PaymentState.charge_id`` of the payment, where the provider gave one."""
    telegram_user_id: int | None = None
    receipt: Receipt | None = None


@dataclass(frozen=True, slots=True)
class RefundState:
    """A refund as the provider vouches for it."""

    provider_refund_id: str
    provider_payment_id: str
    status: RefundStatus
    amount: Money
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A webhook exactly as it arrived: signatures are over these bytes."""

    provider: str
    body: bytes
    headers: Mapping[str, str]
    """Lowercase names."""
    remote_address: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Verified:
    """The notification is genuine; this is what it established."""

    fact: PaymentState | RefundState


@dataclass(frozen=True, slots=True)
class Refused:
    """The notification is not to be believed, or not about anything billing acts on."""

    outcome: str
    """``rejected_<why>`` for a forgery or nonsense (alert on a wave of them); ``ignored``
    for a genuine notification of something billing does not act on."""
    detail: str


Verdict = Verified | Refused


class PaymentProvider(Protocol):
    """One payment provider. Implementations live beside this module, one each."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create (or, for the same ``idempotence_key``, find again) the order's payment."""
        ...

    async def verify(self, notification: Notification) -> Verdict:
        """Decide whether a notification is genuine and what it says; may ask the provider."""
        ...

    async def fetch_payment(self, provider_payment_id: str) -> PaymentState:
        """The payment as the provider has it now; ``PaymentNotFound`` if it has none."""
        ...

    async def refund(self, request: RefundRequest) -> RefundState:
        """Refund (part of) a succeeded payment; the same key never refunds twice."""
        ...

    async def aclose(self) -> None: ...
