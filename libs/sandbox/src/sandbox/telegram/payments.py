"""Telegram Stars: invoices, pre-checkout queries, charges, refunds, subscriptions and a bot's
Stars ledger, as the Bot API shows them (``shared/reference/payments.md`` §3).

An invoice is checked in three steps, in the server's order: the Bot API server reads the
parameters (``get_input_message_invoice``, ``get_labeled_price_parts``), TDLib checks the
amounts (``InputInvoice::process_input_message_invoice``), then Telegram's servers apply the
Stars rules. JSON key order follows the Bot API server's ``JsonInvoice``,
``JsonPreCheckoutQuery``, ``JsonSuccessfulPaymentBot``, ``JsonRefundedPayment`` and
``JsonStarTransaction``. Nothing here does I/O.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.telegram.errors import bad_request
from sandbox.telegram.updates import QueuedUpdate
from sandbox.telegram.wire import INT64_MAX, INT64_MIN, Params, to_int64

STARS = "XTR"
SUBSCRIPTION_PERIOD = 2_592_000
MAX_SUBSCRIPTION_AMOUNT = 10_000
# Not published: createInvoiceLink was measured accepting 100000 Stars and refusing 150000.
MAX_STARS_AMOUNT = 100_000
MAX_CURRENCY_AMOUNT = 9999_9999_9999  # TDLib check_currency_amount
MAX_TITLE_LENGTH = 32
MAX_DESCRIPTION_LENGTH = 255
MAX_PAYLOAD_BYTES = 128
MAX_SUGGESTED_TIPS = 4
PRE_CHECKOUT_ANSWER_WINDOW = 10.0
DEFAULT_STAR_BALANCE = 100_000
INVOICE_LINK_PREFIX = "https://t.me/$"

# Telegram's own error constants, passed through by the Bot API server unchanged.
PAYMENT_PROVIDER_INVALID = "PAYMENT_PROVIDER_INVALID"
STARS_INVOICE_INVALID = "STARS_INVOICE_INVALID"
CURRENCY_TOTAL_AMOUNT_INVALID = "CURRENCY_TOTAL_AMOUNT_INVALID"
SUBSCRIPTION_PERIOD_INVALID = "SUBSCRIPTION_PERIOD_INVALID"
SUBSCRIPTION_AMOUNT_INVALID = "SUBSCRIPTION_AMOUNT_INVALID"
INVOICE_PAYLOAD_INVALID = "INVOICE_PAYLOAD_INVALID"
# What Telegram answers for an over-long title or description is not on record; this is
# the closest documented payments.exportInvoice constant.
INVOICE_TEXT_INVALID = "MEDIA_INVALID"
CHARGE_ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
# Documented for refundStarsCharge are only CHARGE_ALREADY_REFUNDED, CHARGE_ID_EMPTY and
# USER_ID_INVALID; an unknown charge is answered with Telegram's registered constant.
CHARGE_NOT_FOUND = "CHARGE_NOT_FOUND"
CHARGE_ID_INVALID = "CHARGE_ID_INVALID"
USER_ID_INVALID = "USER_ID_INVALID"


@dataclass(frozen=True)
class LabeledPrice:
    label: str
    amount: int


@dataclass(frozen=True)
class InvoiceRequest:
    """An invoice as the bot asked for it, before any amount was checked."""

    title: str
    description: str
    payload: str
    currency: str
    prices: tuple[LabeledPrice, ...]
    provider_token: str = ""
    start_parameter: str = ""
    max_tip_amount: int = 0
    suggested_tip_amounts: tuple[int, ...] = ()
    subscription_period: int = 0


@dataclass(frozen=True)
class Invoice:
    title: str
    description: str
    payload: str
    currency: str
    total_amount: int
    start_parameter: str = ""
    subscription_period: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "start_parameter": self.start_parameter,
            "currency": self.currency,
            "total_amount": self.total_amount,
        }


def parse_invoice_request(p: Params, *, subscriptions: bool) -> InvoiceRequest:
    """The Bot API server's reading of an invoice; only createInvoiceLink takes a period."""
    title = p.required("title")
    description = p.required("description")
    payload = p.required("payload")
    provider_token = p.text("provider_token")
    start_parameter = p.text("start_parameter")
    currency = p.required("currency")
    prices = parse_labeled_prices(p.required("prices"))
    max_tip_amount = _max_tip_amount(p.text("max_tip_amount"))
    tips = _suggested_tip_amounts(p.text("suggested_tip_amounts"))
    period = p.integer("subscription_period", default=0, lowest=0, highest=2**31 - 1)
    return InvoiceRequest(
        title=title,
        description=description,
        payload=payload,
        currency=currency,
        prices=prices,
        provider_token=provider_token,
        start_parameter=start_parameter,
        max_tip_amount=max_tip_amount,
        suggested_tip_amounts=tips,
        subscription_period=period if subscriptions else 0,
    )


def parse_labeled_prices(raw: str) -> tuple[LabeledPrice, ...]:
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise bad_request("can't parse prices JSON object") from error
    if not isinstance(value, list):
        raise bad_request("expected an Array of labeled prices")
    prices = tuple(_labeled_price(item) for item in value)
    if not prices:
        raise bad_request("there must be at least one price")
    return prices


def _labeled_price(value: Any) -> LabeledPrice:
    if not isinstance(value, dict):
        raise _price_error("LabeledPrice must be an Object")
    label = _string_field(value, "label")
    if label == "":
        raise _price_error("LabeledPrice label must be non-empty")
    return LabeledPrice(label, _long_field(value, "amount"))


def _price_error(detail: str) -> Exception:
    return bad_request(f"can't parse labeled price: {detail}")


def _string_field(value: dict[str, Any], name: str) -> str:
    """TDLib's get_required_string_field: a number is taken as its text."""
    if name not in value:
        raise _price_error(f'Can\'t find field "{name}"')
    field_value = value[name]
    if isinstance(field_value, str):
        return field_value
    if isinstance(field_value, (int, float)) and not isinstance(field_value, bool):
        return str(field_value)
    raise _price_error(f'Field "{name}" must be of type String')


def _long_field(value: dict[str, Any], name: str) -> int:
    """TDLib's get_required_long_field: an int64 given as a number or as a string."""
    if name not in value:
        raise _price_error(f'Can\'t find field "{name}"')
    field_value = value[name]
    if isinstance(field_value, bool) or not isinstance(field_value, (int, float, str)):
        raise _price_error(f'Field "{name}" must be a Number')
    number = to_int64(field_value) if isinstance(field_value, str) else field_value
    if not isinstance(number, int) or not INT64_MIN <= number <= INT64_MAX:
        raise _price_error(f'Field "{name}" must be a valid Number')
    return number


def _max_tip_amount(raw: str) -> int:
    if raw == "":
        return 0
    amount = to_int64(raw)
    if amount is None:
        raise bad_request('can\'t parse "max_tip_amount" as Number')
    return amount


def _suggested_tip_amounts(raw: str) -> tuple[int, ...]:
    if raw == "":
        return ()
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise bad_request("can't parse suggested_tip_amounts JSON object") from error
    if not isinstance(value, list):
        raise bad_request("expected an Array of suggested tip amounts")
    amounts: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float, str)):
            raise bad_request("suggested tip amount must be of type Number or String")
        amount = to_int64(item) if isinstance(item, str) else item
        if not isinstance(amount, int):
            raise bad_request("can't parse suggested tip amount as Number")
        amounts.append(amount)
    return tuple(amounts)


def check_invoice(request: InvoiceRequest) -> Invoice:
    """TDLib's amount checks, then Telegram's Stars rules; the emulator knows no providers."""
    total = 0
    for price in request.prices:
        if not _fits_currency(price.amount):
            raise bad_request("too big amount of the currency specified")
        total += price.amount
    if total <= 0:
        raise bad_request("total price must be positive")
    if not _fits_currency(total):
        raise bad_request("total price is too big")
    _check_tips(request)
    if request.currency != STARS:
        raise bad_request(PAYMENT_PROVIDER_INVALID)
    has_tips = request.max_tip_amount != 0 or bool(request.suggested_tip_amounts)
    if request.provider_token or len(request.prices) != 1 or has_tips:
        raise bad_request(STARS_INVOICE_INVALID)
    if request.subscription_period:
        if request.subscription_period != SUBSCRIPTION_PERIOD:
            raise bad_request(SUBSCRIPTION_PERIOD_INVALID)
        if total > MAX_SUBSCRIPTION_AMOUNT:
            raise bad_request(SUBSCRIPTION_AMOUNT_INVALID)
    elif total > MAX_STARS_AMOUNT:
        raise bad_request(CURRENCY_TOTAL_AMOUNT_INVALID)
    too_long = len(request.title) > MAX_TITLE_LENGTH
    if too_long or len(request.description) > MAX_DESCRIPTION_LENGTH:
        raise bad_request(INVOICE_TEXT_INVALID)
    if len(request.payload.encode()) > MAX_PAYLOAD_BYTES:
        raise bad_request(INVOICE_PAYLOAD_INVALID)
    return Invoice(
        title=request.title,
        description=request.description,
        payload=request.payload,
        currency=request.currency,
        total_amount=total,
        start_parameter=request.start_parameter,
        subscription_period=request.subscription_period,
    )


def _fits_currency(amount: int) -> bool:
    return -MAX_CURRENCY_AMOUNT <= amount <= MAX_CURRENCY_AMOUNT


def _check_tips(request: InvoiceRequest) -> None:
    if request.max_tip_amount < 0 or not _fits_currency(request.max_tip_amount):
        raise bad_request("invalid max_tip_amount of the currency specified")
    for tip in request.suggested_tip_amounts:
        if tip <= 0:
            raise bad_request("suggested tip amount must be positive")
        if tip > request.max_tip_amount:
            raise bad_request("suggested tip amount can't be bigger than max_tip_amount")
    if len(request.suggested_tip_amounts) > MAX_SUGGESTED_TIPS:
        raise bad_request("there can be at most 4 suggested tip amounts")


def invoice_link_url(slug: str) -> str:
    return INVOICE_LINK_PREFIX + slug


def invoice_slug(link: str) -> str:
    """The slug of ``https://t.me/$<slug>`` (or of ``$<slug>``, or the slug itself)."""
    return link.removeprefix(INVOICE_LINK_PREFIX).removeprefix("$")


@dataclass(frozen=True)
class PreCheckoutAnswer:
    ok: bool
    error_message: str


@dataclass
class PreCheckoutQuery:
    """Waits for the bot's answer; once answered or expired (None) it takes no other."""

    id: str
    bot_id: int
    user_id: int
    invoice: Invoice
    decision: asyncio.Future[PreCheckoutAnswer | None]

    @property
    def open(self) -> bool:
        return not self.decision.done()

    def answer(self, ok: bool, error_message: str) -> None:
        self.decision.set_result(PreCheckoutAnswer(ok, error_message))

    def expire(self) -> None:
        if not self.decision.done():
            self.decision.set_result(None)

    def to_json(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": user,
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
        }


@dataclass
class StarCharge:
    """One successful payment; a subscription renewal is a charge of its own."""

    id: str
    user_id: int
    invoice: Invoice
    date: int
    subscription_id: str | None = None
    is_first_recurring: bool = False
    expires_at: int | None = None
    refunded: bool = False

    def successful_payment_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
            # Opaque for Stars; Telegram's own charge id is the one that identifies it.
            "telegram_payment_charge_id": self.id,
            "provider_payment_charge_id": "",
        }
        if self.subscription_id is not None:
            body["is_recurring"] = True
        if self.is_first_recurring:
            body["is_first_recurring"] = True
        if self.expires_at is not None:
            body["subscription_expiration_date"] = self.expires_at
        return body

    def refunded_payment_json(self) -> dict[str, Any]:
        return {
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
            "telegram_payment_charge_id": self.id,
        }


@dataclass
class Subscription:
    """A subscription bought through an invoice link; its id is its first charge's."""

    id: str
    user_id: int
    invoice: Invoice
    expires_at: int
    canceled_by_bot: bool = False


@dataclass(frozen=True)
class StarTransaction:
    """An entry of getStarTransactions; a refund keeps the id of the payment it undoes."""

    id: str
    amount: int
    date: int
    incoming: bool
    user: dict[str, Any]
    invoice_payload: str
    subscription_period: int

    def to_json(self) -> dict[str, Any]:
        partner: dict[str, Any] = {
            "transaction_type": "invoice_payment",
            "type": "user",
            "user": self.user,
        }
        if self.invoice_payload:
            partner["invoice_payload"] = self.invoice_payload
        if self.subscription_period > 0:
            partner["subscription_period"] = self.subscription_period
        return {
            "id": self.id,
            "date": self.date,
            "source" if self.incoming else "receiver": partner,
            "amount": self.amount,
        }


def star_transaction(
    charge: StarCharge, user: dict[str, Any], *, date: int, incoming: bool
) -> StarTransaction:
    return StarTransaction(
        id=charge.id,
        amount=charge.invoice.total_amount,
        date=date,
        incoming=incoming,
        user=user,
        invoice_payload=charge.invoice.payload,
        subscription_period=charge.invoice.subscription_period,
    )


@dataclass
class StarLedger:
    """One bot's Stars: its balance, history, charges, subscriptions and invoice links."""

    balance: int = 0
    transactions: list[StarTransaction] = field(default_factory=list)
    charges: dict[str, StarCharge] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    links: dict[str, Invoice] = field(default_factory=dict)

    def page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Oldest first, as the Bot API documents getStarTransactions."""
        return [entry.to_json() for entry in self.transactions[offset : offset + limit]]


PaymentKind = Literal["checkout", "renewal"]
PaymentStatus = Literal[
    "pending", "paid", "declined", "timed_out", "insufficient_balance", "canceled"
]


@dataclass
class PaymentAttempt:
    """What the customer saw of one payment: how it ended and the bot's error message."""

    kind: PaymentKind
    invoice: Invoice
    started_at: float
    invoice_message_id: int | None = None
    invoice_link: str | None = None
    status: PaymentStatus = "pending"
    pre_checkout_query_id: str | None = None
    error_message: str | None = None
    charge: StarCharge | None = None
    finished_at: float | None = None
    update: QueuedUpdate | None = None  # the successful_payment message, if the bot takes it

    def finish(self, status: PaymentStatus, now: float) -> PaymentAttempt:
        self.status = status
        self.finished_at = now
        return self

    def to_json(self) -> dict[str, Any]:
        charge = self.charge
        return {
            "kind": self.kind,
            "status": self.status,
            "pre_checkout_query_id": self.pre_checkout_query_id,
            "telegram_payment_charge_id": charge.id if charge is not None else None,
            "error_message": self.error_message,
            "currency": self.invoice.currency,
            "total_amount": self.invoice.total_amount,
            "invoice_payload": self.invoice.payload,
            "subscription_expiration_date": charge.expires_at if charge is not None else None,
            "invoice_message_id": self.invoice_message_id,
            "invoice_link": self.invoice_link,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
