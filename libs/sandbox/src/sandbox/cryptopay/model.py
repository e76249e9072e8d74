"""Apps, invoices and transfers as the emulator keeps them, and their API objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

JsonObject = dict[str, Any]

TOKEN_PATTERN: Final = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


def format_timestamp(moment: datetime) -> str:
    """``2025-01-15T10:00:00.000Z``"""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_amount(value: Decimal) -> str:
    """``Decimal("299.00")`` as ``"299"``, ``Decimal("3.070")`` as ``"3.07"``: no exponent."""
    text = f"{value.normalize():f}"
    return "0" if text in ("0", "-0") else text


class InvoiceStatus(StrEnum):
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"


class CurrencyType(StrEnum):
    CRYPTO = "crypto"
    FIAT = "fiat"


@dataclass
class App:
    """An app created in @CryptoBot: its token, webhook settings and balance."""

    app_id: int
    name: str
    token: str
    webhook_url: str | None = None
    # "Method transfer is disabled by default for new apps" (changelog 1.1.2).
    transfer_enabled: bool = False
    balances: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TOKEN_PATTERN.fullmatch(self.token):
            raise ValueError("an app token looks like <digits>:<letters, digits, _ or ->")

    def me(self, bot_username: str) -> JsonObject:
        return {
            "app_id": self.app_id,
            "name": self.name,
            "payment_processing_bot_username": bot_username,
        }

    def settings(self) -> JsonObject:
        """What the control API shows; the token stays out of it."""
        return {
            "app_id": self.app_id,
            "name": self.name,
            "webhook_url": self.webhook_url,
            "transfer_enabled": self.transfer_enabled,
            "balances": {asset: format_amount(value) for asset, value in self.balances.items()},
        }


@dataclass(frozen=True)
class Payment:
    """What the user did to pay an invoice; the paid fields of the invoice object."""

    paid_at: datetime
    asset: str
    amount: Decimal
    fiat_rate: Decimal | None
    usd_rate: Decimal | None
    fee_amount: Decimal
    anonymous: bool
    comment: str | None


@dataclass
class Invoice:
    invoice_id: int
    app_id: int
    hash: str
    currency_type: CurrencyType
    asset: str | None
    fiat: str | None
    amount: Decimal
    accepted_assets: tuple[str, ...] | None
    allow_comments: bool
    allow_anonymous: bool
    created_at: datetime
    bot_invoice_url: str
    mini_app_invoice_url: str
    web_app_invoice_url: str
    description: str | None = None
    hidden_message: str | None = None
    payload: str | None = None
    paid_btn_name: str | None = None
    paid_btn_url: str | None = None
    swap_to: str | None = None
    expiration_date: datetime | None = None
    status: InvoiceStatus = InvoiceStatus.ACTIVE
    payment: Payment | None = None
    deleted: bool = False

    def to_json(self) -> JsonObject:
        """The Invoice object of the API, a fresh dict each time; numbers are strings."""
        body: JsonObject = {
            "invoice_id": self.invoice_id,
            "hash": self.hash,
            "currency_type": self.currency_type.value,
        }
        if self.asset is not None:
            body["asset"] = self.asset
        if self.fiat is not None:
            body["fiat"] = self.fiat
        body["amount"] = format_amount(self.amount)
        if self.accepted_assets is not None:
            body["accepted_assets"] = list(self.accepted_assets)
        body["status"] = self.status.value
        if self.payment is not None:
            body.update(self._paid_fields(self.payment))
        for name in ("description", "hidden_message", "payload", "swap_to"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        body["bot_invoice_url"] = self.bot_invoice_url
        body["mini_app_invoice_url"] = self.mini_app_invoice_url
        body["web_app_invoice_url"] = self.web_app_invoice_url
        body["created_at"] = format_timestamp(self.created_at)
        if self.expiration_date is not None:
            body["expiration_date"] = format_timestamp(self.expiration_date)
        body["allow_comments"] = self.allow_comments
        body["allow_anonymous"] = self.allow_anonymous
        if self.paid_btn_name is not None:
            body["paid_btn_name"] = self.paid_btn_name
            body["paid_btn_url"] = self.paid_btn_url
        return body

    @staticmethod
    def _paid_fields(payment: Payment) -> JsonObject:
        fields: JsonObject = {
            "paid_at": format_timestamp(payment.paid_at),
            "paid_asset": payment.asset,
            "paid_amount": format_amount(payment.amount),
        }
        if payment.fiat_rate is not None:
            fields["paid_fiat_rate"] = str(payment.fiat_rate)
        if payment.usd_rate is not None:
            fields["paid_usd_rate"] = str(payment.usd_rate)
        fields["fee_asset"] = payment.asset
        fields["fee_amount"] = format_amount(payment.fee_amount)
        fields["paid_anonymously"] = payment.anonymous
        if payment.comment is not None:
            fields["comment"] = payment.comment
        return fields


@dataclass(frozen=True)
class Transfer:
    transfer_id: int
    app_id: int
    spend_id: str
    user_id: int
    asset: str
    amount: Decimal
    completed_at: datetime
    comment: str | None = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {
            "transfer_id": self.transfer_id,
            "spend_id": self.spend_id,
            "user_id": self.user_id,
            "asset": self.asset,
            "amount": format_amount(self.amount),
            "status": "completed",
            "completed_at": format_timestamp(self.completed_at),
        }
        if self.comment is not None:
            body["comment"] = self.comment
        return body


@dataclass(frozen=True)
class ExchangeRate:
    source: str
    target: str
    rate: Decimal
    is_crypto: bool
    is_fiat: bool

    def to_json(self) -> JsonObject:
        return {
            "is_valid": True,
            "is_crypto": self.is_crypto,
            "is_fiat": self.is_fiat,
            "source": self.source,
            "target": self.target,
            "rate": str(self.rate),
        }
