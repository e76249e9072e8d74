"""Crypto Pay (@CryptoBot) behind the provider seam: invoices priced in fiat, paid in crypto.

The rules are in ``payments.md`` §4 and §6. Every call carries the app token in
``Crypto-Pay-API-Token`` and gets back an ``{"ok": ..., "result" | "error"}`` envelope. A 5xx,
a 429 or a timeout leaves the outcome unknown; any other 4xx is final. Crypto Pay has no
idempotence key, so a retried creation first looks for the invoice that the lost try may
have made, by its ``payload`` (our order id). Webhooks are signed with HMAC-SHA-256 over the
raw body, so a notification is believed without asking the API again. The only update type
is ``invoice_paid``. There is no refund method: a refund is either a ``transfer`` of the
paid asset to the customer (new apps have it disabled) or is made by hand in @CryptoBot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import httpx

from billing.providers.base import (
    Capabilities,
    CreatedPayment,
    Notification,
    PaymentNotFound,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RefundRequest,
    RefundState,
    RefundStatus,
    Refused,
    Verdict,
    Verified,
)
from billing.providers.wire import optional_timestamp, timestamp
from chassis.http import third_party_client
from contracts.money import Money

MAINNET_API: Final = "https://pay.crypt.bot/api"
SIGNATURE_HEADER: Final = "crypto-pay-api-signature"
TOKEN_HEADER: Final = "Crypto-Pay-API-Token"  # noqa: S105 - a header name, not a secret
# The platform sells in these; Crypto Pay prices fiat invoices in them (and in others).
CURRENCIES: Final = frozenset({"RUB", "USD", "EUR"})
MAX_DESCRIPTION: Final = 1024
MAX_TRANSFER_COMMENT: Final = 1024
MAX_EXPIRES_IN: Final = 2_678_400
MAX_SPEND_ID: Final = 64
PAGE_SIZE: Final = 1000
# How many pages of active invoices a retried creation reads before it gives up looking
# (and creates anew). Billing's invoices run out within ``expires_in``, so few are active.
MAX_SEARCH_PAGES: Final = 10
CANCELLATION_PARTY: Final = "cryptopay"

_Parsed = TypeVar("_Parsed")


class CryptoPayError(ProviderError):
    """Any failure talking to Crypto Pay."""


class CryptoPayUnavailable(CryptoPayError, ProviderUnavailable):
    """No definite answer (5xx, 429, timeout, network, a body that is no envelope)."""


class CryptoPayRejected(CryptoPayError, ProviderRejected):
    """A definite refusal: ``error.name`` of the envelope, lowercased as the code."""

    def __init__(self, status: int, error_name: str) -> None:
        ProviderRejected.__init__(self, f"{status} {error_name}", code=error_name.lower())
        self.status = status
        self.error_name = error_name


class CryptoPayNotFound(CryptoPayRejected, PaymentNotFound):
    """Crypto Pay has no invoice with this id, or the id cannot be one."""

    def __init__(self, status: int, error_name: str) -> None:
        CryptoPayRejected.__init__(self, status, error_name)
        self.code = "not_found"


@dataclass(frozen=True, slots=True)
class CryptoPaySettings:
    """One Crypto Pay app, as billing uses it.

    ``bot_url`` is the bot's ``https://t.me/...`` link, shown as the "open bot" button once the
    invoice is paid. ``transfer_refunds`` says whether refunds may be sent by ``transfer``;
    transfers must also be enabled in the app's security settings, and they are off for new
    apps. ``max_webhook_age_s`` refuses updates whose ``request_date`` is older than that. It
    is off by default: the retry policy is not documented, and it is not known whether a
    retried update carries a new ``request_date``, so a short limit could refuse genuine
    retries.
    """

    token: str = field(repr=False)
    bot_url: str
    api_url: str = MAINNET_API
    timeout_s: float = 10.0
    accepted_assets: tuple[str, ...] = ("USDT", "TON", "BTC")
    expires_in_s: int = 3600
    transfer_refunds: bool = False
    max_webhook_age_s: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.expires_in_s <= MAX_EXPIRES_IN:
            raise ValueError(f"expires_in_s must be from 1 to {MAX_EXPIRES_IN}")
        if not self.accepted_assets:
            raise ValueError("accepted_assets must name at least one asset")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.max_webhook_age_s is not None and self.max_webhook_age_s <= 0:
            raise ValueError("max_webhook_age_s must be positive (or None: no check)")


@dataclass(frozen=True, slots=True)
class CryptoPayInvoice:
    """The fields of a Crypto Pay invoice that billing acts on; numbers come as strings."""

    invoice_id: int
    status: str
    currency_type: str
    amount: Decimal
    fiat: str | None = None
    asset: str | None = None
    payload: str | None = None
    bot_invoice_url: str | None = None
    expiration_date: datetime | None = None
    paid_at: datetime | None = None
    paid_asset: str | None = None
    paid_amount: Decimal | None = None
    fee_amount: Decimal | None = None

    @classmethod
    def from_api(cls, body: Any) -> CryptoPayInvoice:
        """Parse an Invoice object; raises ``ValueError`` if it is not one."""
        try:
            invoice_id = body["invoice_id"]
            if isinstance(invoice_id, bool) or not isinstance(invoice_id, int):
                raise ValueError(f"invoice_id is not an integer: {invoice_id!r}")
            payload = body.get("payload")
            return cls(
                invoice_id=invoice_id,
                status=str(body["status"]),
                currency_type=str(body.get("currency_type") or "crypto"),
                amount=_decimal(body["amount"]),
                fiat=_optional_text(body.get("fiat")),
                asset=_optional_text(body.get("asset")),
                payload=None if payload is None else str(payload),
                bot_invoice_url=_optional_text(body.get("bot_invoice_url")),
                expiration_date=optional_timestamp(body.get("expiration_date")),
                paid_at=optional_timestamp(body.get("paid_at")),
                paid_asset=_optional_text(body.get("paid_asset")),
                paid_amount=_optional_decimal(body.get("paid_amount")),
                fee_amount=_optional_decimal(body.get("fee_amount")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a Crypto Pay invoice: {exc!r}") from exc

    def price(self) -> Money:
        """The fiat amount; ``ValueError`` for a crypto invoice (billing creates none)."""
        if self.currency_type != "fiat" or self.fiat is None:
            raise ValueError(f"invoice {self.invoice_id} is not priced in fiat")
        return Money.from_decimal(self.amount, self.fiat)

    def state(self) -> PaymentState:
        payment_id, amount = str(self.invoice_id), self.price()
        if self.status == "paid":
            return PaymentState(
                provider_payment_id=payment_id,
                status=PaymentStatus.SUCCEEDED,
                amount=amount,
                order_ref=self.payload,
                occurred_at=self.paid_at,
                charge_id=payment_id,
            )
        if self.status == "expired":
            # Crypto Pay itself ends an invoice when the expires_in that billing set runs out.
            return PaymentState(
                provider_payment_id=payment_id,
                status=PaymentStatus.CANCELED,
                amount=amount,
                order_ref=self.payload,
                occurred_at=self.expiration_date,
                cancellation_party=CANCELLATION_PARTY,
                cancellation_reason="expired",
            )
        # "active" waits for the customer; a status not documented yet is waited on too.
        return PaymentState(
            provider_payment_id=payment_id,
            status=PaymentStatus.PENDING,
            amount=amount,
            order_ref=self.payload,
        )


@dataclass(frozen=True, slots=True)
class CryptoPayTransfer:
    transfer_id: int
    spend_id: str
    user_id: int
    asset: str
    amount: Decimal
    status: str
    completed_at: datetime | None

    @classmethod
    def from_api(cls, body: Any) -> CryptoPayTransfer:
        try:
            return cls(
                transfer_id=int(body["transfer_id"]),
                spend_id=str(body["spend_id"]),
                user_id=int(body["user_id"]),
                asset=str(body["asset"]),
                amount=_decimal(body["amount"]),
                status=str(body["status"]),
                completed_at=optional_timestamp(body.get("completed_at")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a Crypto Pay transfer: {exc!r}") from exc


class CryptoPayClient:
    """The Crypto Pay API methods billing uses, each a POST with JSON parameters."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = third_party_client(
            base_url=api_url.rstrip("/") + "/",
            timeout_s=timeout_s,
            transport=transport,
            headers={TOKEN_HEADER: token, "Accept": "application/json"},
        )

    async def create_invoice(
        self,
        *,
        amount: Money,
        accepted_assets: tuple[str, ...],
        description: str,
        payload: str,
        expires_in: int,
        paid_btn_url: str,
    ) -> CryptoPayInvoice:
        """A fiat invoice the customer pays in one of ``accepted_assets``; not idempotent."""
        params = {
            "currency_type": "fiat",
            "fiat": amount.currency,
            "amount": f"{amount.to_decimal()}",
            "accepted_assets": ",".join(accepted_assets),
            "description": description[:MAX_DESCRIPTION],
            "payload": payload,
            "expires_in": expires_in,
            "paid_btn_name": "openBot",
            "paid_btn_url": paid_btn_url,
            "allow_comments": False,
        }
        return _parsed(CryptoPayInvoice.from_api, await self.call("createInvoice", params))

    async def get_invoices(
        self,
        *,
        invoice_ids: tuple[int, ...] = (),
        status: str | None = None,
        fiat: str | None = None,
        offset: int = 0,
        count: int = 100,
    ) -> list[CryptoPayInvoice]:
        """Newest first (as the emulator orders them; the API does not document an order)."""
        params: dict[str, Any] = {"offset": offset, "count": count}
        if invoice_ids:
            params["invoice_ids"] = ",".join(str(invoice_id) for invoice_id in invoice_ids)
        if status is not None:
            params["status"] = status
        if fiat is not None:
            params["fiat"] = fiat
        result = await self.call("getInvoices", params)
        return [_parsed(CryptoPayInvoice.from_api, item) for item in _items(result)]

    async def transfer(
        self, *, user_id: int, asset: str, amount: Decimal, spend_id: str, comment: str
    ) -> CryptoPayTransfer:
        """Send ``amount`` of ``asset`` from the app's balance; a ``spend_id`` is spent once."""
        params = {
            "user_id": user_id,
            "asset": asset,
            "amount": _decimal_text(amount),
            "spend_id": spend_id,
            "comment": comment[:MAX_TRANSFER_COMMENT],
        }
        return _parsed(CryptoPayTransfer.from_api, await self.call("transfer", params))

    async def get_transfers(self, *, spend_id: str) -> list[CryptoPayTransfer]:
        result = await self.call("getTransfers", {"spend_id": spend_id})
        return [_parsed(CryptoPayTransfer.from_api, item) for item in _items(result)]

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """The ``result`` of ``method``, or the error its envelope or status means."""
        try:
            response = await self._http.post(method, json=dict(params))
        except httpx.HTTPError as exc:
            raise CryptoPayUnavailable(f"{method}: {exc!r}") from exc
        body = _json_object(response)
        if response.status_code == 200 and body.get("ok") is True and "result" in body:
            return body["result"]
        error = body.get("error")
        error = error if isinstance(error, dict) else {}
        status = response.status_code
        if status == 200:  # ok is not true: the envelope's code is the status
            code = error.get("code")
            status = code if isinstance(code, int) and not isinstance(code, bool) else 0
        name = str(error.get("name") or f"HTTP_{status}")
        if status == 429 or not 400 <= status < 500:
            raise CryptoPayUnavailable(
                f"{method}: HTTP {response.status_code} {name}",
                retry_after_s=_retry_after(response),
            )
        if name == "INVOICE_NOT_FOUND":
            raise CryptoPayNotFound(status, name)
        raise CryptoPayRejected(status, name)

    async def aclose(self) -> None:
        await self._http.aclose()


class CryptoPay:
    """The provider ``cryptopay``: RUB, USD and EUR invoices paid in crypto via @CryptoBot.

    Refunds exist only as transfers, and only when ``transfer_refunds`` is on. A transfer
    carries an amount of one asset (within Crypto Pay's limits), so a partial refund is
    possible: it sends the same share of what the customer paid in crypto, rounded down.
    A refund needs the customer's Telegram user id. There is no saved method (no autopay)
    and no 54-FZ receipt.
    """

    name = "cryptopay"

    def __init__(
        self, settings: CryptoPaySettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = CryptoPayClient(
            api_url=settings.api_url,
            token=settings.token,
            timeout_s=settings.timeout_s,
            transport=transport,
        )
        self.capabilities = Capabilities(
            currencies=CURRENCIES,
            refunds=settings.transfer_refunds,
            partial_refunds=settings.transfer_refunds,
            recurring=False,
            receipts=False,
        )
        self._secret = hashlib.sha256(settings.token.encode()).digest()

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create the order's invoice; a retry returns the one a lost try left active."""
        if request.amount.currency not in self.capabilities.currencies:
            raise ProviderRejected(
                f"Crypto Pay is not used for {request.amount.currency}",
                code="unsupported_currency",
            )
        if request.saved_method_id is not None or request.save_method:
            raise ProviderRejected("Crypto Pay keeps no payment methods", code="no_recurring")
        payload = str(request.order_id)
        if request.attempt > 1:
            earlier = await self._active_invoice(payload, request.amount)
            if earlier is not None:
                return _created(earlier)
        invoice = await self.client.create_invoice(
            amount=request.amount,
            accepted_assets=self.settings.accepted_assets,
            description=request.description,
            payload=payload,
            expires_in=self._expires_in(request.expires_at),
            paid_btn_url=self.settings.bot_url,
        )
        return _created(invoice)

    async def verify(self, notification: Notification) -> Verdict:
        """Check the signature over the raw body, then read the paid invoice from it.

        ``update_id`` is not unique (the doc says so), so it identifies nothing: the fact is
        keyed by the invoice id, and billing dedupes repeated updates by that id downstream.
        """
        signature = notification.headers.get(SIGNATURE_HEADER)
        if not signature:
            return Refused("rejected_signature", f"no {SIGNATURE_HEADER} header")
        if not self._signed(notification.body, signature):
            return Refused("rejected_signature", "the signature does not match the body")
        try:
            update = json.loads(notification.body)
        except ValueError:
            return Refused("rejected_malformed", "the signed body is not JSON")
        if not isinstance(update, dict):
            return Refused("rejected_malformed", "the signed body is not an update")
        update_type = update.get("update_type")
        if not isinstance(update_type, str):
            return Refused("rejected_malformed", "the update has no update_type")
        if update_type != "invoice_paid":
            return Refused("ignored", f"billing does not act on {update_type}")
        if self.settings.max_webhook_age_s is not None:
            stale = _staleness(update.get("request_date"), notification.received_at)
            if stale is None:
                return Refused("rejected_malformed", "the update has no valid request_date")
            if stale > timedelta(seconds=self.settings.max_webhook_age_s):
                return Refused("rejected_stale", f"the update was sent {stale} before it arrived")
        try:
            invoice = CryptoPayInvoice.from_api(update.get("payload"))
        except ValueError as exc:
            return Refused("rejected_malformed", str(exc))
        if invoice.status != "paid":
            return Refused("rejected_malformed", f"invoice_paid for a {invoice.status} invoice")
        try:
            return Verified(invoice.state())
        except ValueError as exc:
            return Refused("ignored", f"not an invoice billing made: {exc}")

    async def fetch_payment(self, provider_payment_id: str) -> PaymentState:
        invoice = await self._invoice(provider_payment_id)
        try:
            return invoice.state()
        except ValueError as exc:
            raise ProviderRejected(str(exc), code="unsupported_invoice") from exc

    async def refund(self, request: RefundRequest) -> RefundState:
        """Transfer the refunded share of the paid crypto back to the customer.

        The ``spend_id`` is the idempotence key, so a repeat cannot pay twice: Crypto Pay
        answers ``SPEND_ID_ALREADY_USED``, which means the first transfer went through.
        """
        if not self.settings.transfer_refunds:
            raise ProviderRejected(
                "Crypto Pay has no refund method and transfer refunds are off: "
                "refund the customer by hand in @CryptoBot",
                code="refunds_unsupported",
            )
        if request.telegram_user_id is None:
            raise ProviderRejected(
                "a Crypto Pay refund is a transfer to a Telegram user; none was given",
                code="no_recipient",
            )
        invoice = await self._invoice(request.provider_payment_id)
        asset, amount = _refund_share(invoice, request.amount)
        spend_id = _spend_id(request.idempotence_key)
        try:
            transfer: CryptoPayTransfer | None = await self.client.transfer(
                user_id=request.telegram_user_id,
                asset=asset,
                amount=amount,
                spend_id=spend_id,
                comment=request.description,
            )
        except CryptoPayRejected as exc:
            if exc.error_name != "SPEND_ID_ALREADY_USED":
                raise
            listed = await self.client.get_transfers(spend_id=spend_id)
            transfer = next((t for t in listed if t.spend_id == spend_id), None)
        if transfer is None:
            # Spent but not listed: the transfer was made; only its id is unknown.
            return RefundState(
                provider_refund_id=spend_id,
                provider_payment_id=request.provider_payment_id,
                status=RefundStatus.SUCCEEDED,
                amount=request.amount,
            )
        return RefundState(
            provider_refund_id=str(transfer.transfer_id),
            provider_payment_id=request.provider_payment_id,
            # "completed" is the only transfer status documented.
            status=RefundStatus.SUCCEEDED
            if transfer.status == "completed"
            else RefundStatus.PENDING,
            amount=request.amount,
            occurred_at=transfer.completed_at,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _signed(self, body: bytes, signature: str) -> bool:
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        presented = signature.strip().lower().encode("utf-8", "replace")
        return hmac.compare_digest(expected.encode(), presented)

    def _expires_in(self, expires_at: datetime | None) -> int:
        """The configured lifetime, shortened to end by ``expires_at`` when one is asked."""
        if expires_at is None:
            return self.settings.expires_in_s
        left = math.ceil((expires_at - datetime.now(UTC)).total_seconds())
        if left < 1:
            raise ProviderRejected("the payment would expire before it is created", code="expired")
        return min(self.settings.expires_in_s, left)

    async def _invoice(self, provider_payment_id: str) -> CryptoPayInvoice:
        if not provider_payment_id.isascii() or not provider_payment_id.isdigit():
            raise CryptoPayNotFound(404, "INVOICE_NOT_FOUND")
        invoice_id = int(provider_payment_id)
        found = await self.client.get_invoices(invoice_ids=(invoice_id,), count=1)
        for invoice in found:
            if invoice.invoice_id == invoice_id:
                return invoice
        raise CryptoPayNotFound(404, "INVOICE_NOT_FOUND")

    async def _active_invoice(self, payload: str, amount: Money) -> CryptoPayInvoice | None:
        """The order's active invoice for this amount, if an earlier try created one."""
        for page in range(MAX_SEARCH_PAGES):
            invoices = await self.client.get_invoices(
                status="active", fiat=amount.currency, offset=page * PAGE_SIZE, count=PAGE_SIZE
            )
            for invoice in invoices:
                if invoice.payload == payload and _prices(invoice, amount):
                    return invoice
            if len(invoices) < PAGE_SIZE:
                break
        return None


def _created(invoice: CryptoPayInvoice) -> CreatedPayment:
    if invoice.bot_invoice_url is None:
        raise ProviderRejected("Crypto Pay gave no bot_invoice_url", code="no_confirmation")
    return CreatedPayment(
        provider_payment_id=str(invoice.invoice_id),
        confirmation_url=invoice.bot_invoice_url,
        expires_at=invoice.expiration_date,
    )


def _prices(invoice: CryptoPayInvoice, amount: Money) -> bool:
    try:
        return invoice.price() == amount
    except ValueError:
        return False


def _refund_share(invoice: CryptoPayInvoice, refund: Money) -> tuple[str, Decimal]:
    """The asset and amount to transfer back: ``refund``'s share of what was paid.

    Crypto Pay does not document the precision a transfer takes, so the share is rounded
    down to the finest precision it wrote for that asset on the invoice (the paid amount or
    the fee). Rounding down means a customer never gets back more than was paid.
    """
    if invoice.status != "paid" or invoice.paid_asset is None or invoice.paid_amount is None:
        raise ProviderRejected(f"invoice {invoice.invoice_id} is not paid", code="not_paid")
    try:
        price = invoice.price()
    except ValueError as exc:
        raise ProviderRejected(str(exc), code="unsupported_invoice") from exc
    if refund.currency != price.currency:
        raise ProviderRejected(
            f"a {refund.currency} refund of a {price.currency} invoice", code="currency_mismatch"
        )
    if not 0 < refund.amount_minor <= price.amount_minor:
        raise ProviderRejected(f"cannot refund {refund} of {price}", code="amount_invalid")
    paid = invoice.paid_amount
    if refund.amount_minor == price.amount_minor:
        return invoice.paid_asset, paid
    exponent = min(_exponent(paid), _exponent(invoice.fee_amount))
    share = (paid * refund.amount_minor / price.amount_minor).quantize(
        Decimal(1).scaleb(exponent), rounding=ROUND_DOWN
    )
    if share <= 0:
        raise ProviderRejected(
            f"{refund} is less than the smallest {invoice.paid_asset} amount",
            code="amount_too_small",
        )
    return invoice.paid_asset, share


def _exponent(value: Decimal | None) -> int:
    if value is None:
        return 0
    exponent = value.as_tuple().exponent
    return min(exponent, 0) if isinstance(exponent, int) else 0


def _spend_id(idempotence_key: str) -> str:
    """The key itself where it fits the 64 symbols of ``spend_id``, else its SHA-256 hex."""
    if len(idempotence_key) <= MAX_SPEND_ID:
        return idempotence_key
    return hashlib.sha256(idempotence_key.encode()).hexdigest()


def _staleness(request_date: object, received_at: datetime) -> timedelta | None:
    """How long before ``received_at`` the update was sent; None if the date is not one."""
    if not isinstance(request_date, str):
        return None
    try:
        sent = timestamp(request_date)
    except ValueError:
        return None
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return received_at - sent


def _parsed(parse: Callable[[Any], _Parsed], body: Any) -> _Parsed:
    """``parse(body)``, a malformed answer being no definite answer (as for YooKassa)."""
    try:
        return parse(body)
    except ValueError as exc:
        raise CryptoPayUnavailable(str(exc)) from exc


def _items(result: Any) -> list[Any]:
    items = result.get("items") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise CryptoPayUnavailable("the answer has no items list")
    return items


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"not a decimal string: {value!r}")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal string: {value!r}") from None
    if not parsed.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return parsed


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else _decimal(value)


def _decimal_text(value: Decimal) -> str:
    """``Decimal("1.50")`` as ``"1.50"``, never with an exponent."""
    return f"{value:f}"


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)
