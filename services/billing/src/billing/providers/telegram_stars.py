"""Telegram Stars (Bot API, currency ``XTR``) behind the provider seam.

The flow (``payments.md`` §3): billing creates an invoice link here; the bot sends the same
invoice into the chat (:func:`telegram_invoice`) and answers the pre-checkout query; Telegram
tells the bot, not billing, that the customer paid, and the bot forwards each
``successful_payment`` and ``refunded_payment`` as ``StarsPaymentReceived``. That event was
authenticated upstream (the webhook's secret token, then the bot), so :meth:`verify` checks
only that it is what it claims. Telegram's charge id, unique per charge, is what billing
grants once for and what a refund names.

The Bot API has no idempotence key: a retried ``createInvoiceLink`` makes a second link for
the same payload, which is harmless since the payload names the order and billing grants
once per charge. Subscriptions (``subscription_period``) are out of scope for now.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import httpx
from pydantic import ValidationError

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
from chassis.http import third_party_client
from contracts.billing import TelegramInvoice
from contracts.bot import StarsPaymentReceived
from contracts.money import Money

STARS: Final = "XTR"
# The documented cap is the subscription price's (payments.md §3.2: 10000 Stars); the
# one-off cap is not published (the sandbox's measurement: 100000), so we keep to 10000.
MAX_STARS: Final = 10_000
MAX_TITLE: Final = 32
MAX_DESCRIPTION: Final = 255
PAGE_SIZE: Final = 100
PAYLOAD_PREFIX: Final = "order:"
REFUND_PREFIX: Final = "stars-refund:"

ALREADY_REFUNDED: Final = "charge_already_refunded"


class TelegramStarsError(ProviderError):
    """Any failure talking to the Bot API about Stars."""


class TelegramUnavailable(TelegramStarsError, ProviderUnavailable):
    """No definite answer (network, timeout, 5xx, 429): the same call may be repeated."""


class TelegramRejected(TelegramStarsError, ProviderRejected):
    """A definite refusal (4xx): ``code`` is the slug of Telegram's description."""

    def __init__(self, status: int, description: str, code: str) -> None:
        ProviderRejected.__init__(self, f"{status} {description}", code=code)
        self.status = status
        self.description = description


class TelegramPaymentNotFound(TelegramStarsError, PaymentNotFound):
    """The id cannot name an invoice billing created."""


@dataclass(frozen=True, slots=True)
class TelegramStarsSettings:
    """Where the Bot API is and which bot billing speaks as (the bot service's own token)."""

    bot_token: str = field(repr=False)
    api_url: str = "https://api.telegram.org"
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class StarTransaction:
    """The fields of a ``StarTransaction`` billing acts on.

    A refund is an outgoing transaction with the id of the payment it undoes.
    """

    id: str
    amount: int
    date: datetime
    incoming: bool
    invoice_payload: str | None

    @classmethod
    def from_api(cls, body: Any) -> StarTransaction:
        try:
            incoming = "source" in body
            partner = body.get("source" if incoming else "receiver") or {}
            invoice = partner.get("type") == "user" and (
                partner.get("transaction_type", "invoice_payment") == "invoice_payment"
            )
            payload = partner.get("invoice_payload") if invoice else None
            return cls(
                id=_text(body["id"]),
                amount=_integer(body["amount"]),
                date=datetime.fromtimestamp(_integer(body["date"]), UTC),
                incoming=incoming,
                invoice_payload=payload if isinstance(payload, str) else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise TelegramUnavailable(f"not a StarTransaction: {exc!r}") from exc

    def state(self) -> PaymentState:
        payload = self.invoice_payload or ""
        return PaymentState(
            provider_payment_id=payload,
            status=PaymentStatus.SUCCEEDED,
            amount=Money(amount_minor=self.amount, currency=STARS),
            order_ref=order_ref(payload),
            occurred_at=self.date,
            charge_id=self.id,
        )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


class BotApiClient:
    """``POST {api_url}/bot{token}/{method}`` with a JSON body, read through the envelope.

    The token is part of every URL, so no message here includes a URL.
    """

    def __init__(
        self,
        *,
        api_url: str,
        bot_token: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = third_party_client(
            base_url=f"{api_url.rstrip('/')}/bot{bot_token}/",
            timeout_s=timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """The ``result`` of one method; raises ``TelegramUnavailable`` or ``TelegramRejected``."""
        try:
            response = await self._http.post(method, json=params)
        except httpx.HTTPError as exc:
            raise TelegramUnavailable(f"{method}: {type(exc).__name__}") from exc
        body = _envelope(response)
        status = response.status_code
        if status == 200 and body.get("ok") is True and "result" in body:
            return body["result"]
        description = str(body.get("description") or response.reason_phrase or status)
        retry_after = _retry_after(body, response)
        # A 200 that is not a success (a proxy's page, ok:false) is no definite answer either.
        if status == 429 or retry_after is not None or not 400 <= status < 500:
            raise TelegramUnavailable(
                f"{method}: HTTP {status} {description}", retry_after_s=retry_after
            )
        if status in (401, 404):
            # 401 for a revoked or wrong token, 404 for a malformed one (telegram.md §1.4).
            raise TelegramRejected(status, f"{method}: {description}", "unauthorized")
        raise TelegramRejected(status, f"{method}: {description}", _slug(description))

    async def create_invoice_link(self, invoice: TelegramInvoice) -> str:
        link = await self.call(
            "createInvoiceLink",
            {
                "title": invoice.title,
                "description": invoice.description,
                "payload": invoice.payload,
                "currency": STARS,
                "prices": [{"label": invoice.title, "amount": invoice.amount.amount_minor}],
            },
        )
        if not isinstance(link, str) or not link.startswith("https://"):
            raise TelegramUnavailable(f"createInvoiceLink: not a link: {link!r}")
        return link

    async def star_transactions(self, *, offset: int, limit: int = PAGE_SIZE) -> list[Any]:
        result = await self.call("getStarTransactions", {"offset": offset, "limit": limit})
        transactions = result.get("transactions") if isinstance(result, dict) else None
        if not isinstance(transactions, list):
            raise TelegramUnavailable(f"getStarTransactions: not StarTransactions: {result!r}")
        return transactions

    async def find_transaction(
        self, matches: Callable[[StarTransaction], bool]
    ) -> StarTransaction | None:
        """The oldest transaction that ``matches``, paging through the bot's whole history.

        Telegram lists transactions oldest first and offers no search, so the cost grows
        with the history: one request per 100 transactions.
        """
        offset = 0
        while True:
            page = await self.star_transactions(offset=offset)
            for entry in page:
                transaction = StarTransaction.from_api(entry)
                if matches(transaction):
                    return transaction
            if len(page) < PAGE_SIZE:
                return None
            offset += len(page)

    async def refund_star_payment(self, *, user_id: int, charge_id: str) -> None:
        await self.call(
            "refundStarPayment", {"user_id": user_id, "telegram_payment_charge_id": charge_id}
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(body: dict[str, Any], response: httpx.Response) -> float | None:
    parameters = body.get("parameters")
    if isinstance(parameters, dict):
        value = parameters.get("retry_after")
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    header = response.headers.get("retry-after", "")
    return float(header) if header.isdigit() else None


def _slug(description: str) -> str:
    """``Bad Request: CHARGE_ALREADY_REFUNDED`` → ``charge_already_refunded``."""
    _, _, message = description.partition(": ")
    slug = re.sub(r"[^a-z0-9]+", "_", (message or description).lower()).strip("_")
    return slug[:64] or "rejected"


def order_ref(payload: str) -> str | None:
    """The order id in an invoice payload billing made (``order:<uuid>``), else None."""
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    raw = payload.removeprefix(PAYLOAD_PREFIX)
    try:
        parsed = UUID(raw)
    except ValueError:
        return None
    return raw if str(parsed) == raw else None


def telegram_invoice(request: PaymentRequest) -> TelegramInvoice:
    """The order's invoice, identical in the link and in the chat (``sendInvoice``).

    Title and description are cut to Telegram's limits rather than refused: they are
    catalog texts, and a long name should not stop a sale.
    """
    if request.amount.currency != STARS:
        raise ProviderRejected(
            f"Stars take only {STARS}, not {request.amount.currency}", code="unsupported_currency"
        )
    if not TelegramStars.capabilities.accepts(request.amount):
        raise ProviderRejected(
            f"{request.amount.amount_minor} Stars is outside 1..{MAX_STARS}",
            code="amount_out_of_range",
        )
    try:
        return TelegramInvoice(
            title=request.title[:MAX_TITLE],
            description=request.description[:MAX_DESCRIPTION],
            payload=f"{PAYLOAD_PREFIX}{request.order_id}",
            amount=request.amount,
        )
    except ValidationError as exc:
        raise ProviderRejected(f"not an invoice: {exc}", code="invalid_invoice") from exc


class TelegramStars:
    """The provider ``telegram_stars``: one-off payments in Stars, full refunds."""

    name = "telegram_stars"
    capabilities = Capabilities(
        currencies=frozenset({STARS}),
        refunds=True,
        partial_refunds=False,  # refundStarPayment returns the whole charge
        recurring=False,  # Stars subscriptions are not sold yet
        min_amount_minor={STARS: 1},
        max_amount_minor={STARS: MAX_STARS},
        receipts=False,
    )

    def __init__(
        self,
        settings: TelegramStarsSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client = BotApiClient(
            api_url=settings.api_url,
            bot_token=settings.bot_token,
            timeout_s=settings.timeout_s,
            transport=transport,
        )

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """A new invoice link on every call, retries included (see the module's docstring).

        A link does not expire by itself, so ``expires_at`` stays unset.
        """
        if request.saved_method_id is not None:
            raise ProviderRejected("Stars cannot be charged without the customer", code="recurring")
        invoice = telegram_invoice(request)
        link = await self.client.create_invoice_link(invoice)
        # The bot sends the same invoice into the chat: paid there or by the link, alike.
        return CreatedPayment(
            provider_payment_id=invoice.payload, confirmation_url=link, chat_invoice=invoice
        )

    async def verify(self, notification: Notification) -> Verdict:
        try:
            event = StarsPaymentReceived.model_validate_json(notification.body)
        except ValidationError as exc:
            return Refused("rejected_malformed", f"not a StarsPaymentReceived: {exc}")
        if event.currency != STARS:
            return Refused("rejected_currency", f"Stars are {STARS}, not {event.currency}")
        order = order_ref(event.invoice_payload)
        if order is None:
            return Refused(
                "rejected_unknown_order", f"payload {event.invoice_payload!r} is not an order's"
            )
        amount = Money(amount_minor=event.total_amount, currency=STARS)
        if event.kind == "refund":
            return Verified(
                RefundState(
                    provider_refund_id=refund_id(event.telegram_payment_charge_id),
                    provider_payment_id=event.invoice_payload,
                    status=RefundStatus.SUCCEEDED,
                    amount=amount,
                    occurred_at=event.received_at,
                )
            )
        return Verified(
            PaymentState(
                provider_payment_id=event.invoice_payload,
                status=PaymentStatus.SUCCEEDED,
                amount=amount,
                order_ref=order,
                occurred_at=event.received_at,
                charge_id=event.telegram_payment_charge_id,
            )
        )

    async def fetch_payment(self, provider_payment_id: str) -> PaymentState:
        """The order's oldest charge in the bot's Star transactions, else PENDING.

        A refunded charge still reads SUCCEEDED: the refund is a fact of its own, reported
        by its ``refunded_payment``. An unpaid link cannot be read back, so a PENDING state
        carries no amount (zero Stars).
        """
        order = order_ref(provider_payment_id)
        if order is None:
            raise TelegramPaymentNotFound(f"{provider_payment_id!r} is not an order's payload")
        charge = await self.client.find_transaction(
            lambda t: t.incoming and t.invoice_payload == provider_payment_id
        )
        if charge is None:
            return PaymentState(
                provider_payment_id=provider_payment_id,
                status=PaymentStatus.PENDING,
                amount=Money.zero(STARS),
                order_ref=order,
            )
        return charge.state()

    async def refund(self, request: RefundRequest) -> RefundState:
        """Refunds the whole charge; a charge refunded before reads as refunded now.

        Telegram knows no refund ids or keys, so a refund is named by its charge and a
        retry after an unknown outcome is answered ``CHARGE_ALREADY_REFUNDED``. The charge
        is looked up first so that a partial amount, or another order's charge, is refused
        before anything is refunded.
        """
        charge_id, user_id = request.charge_id, request.telegram_user_id
        if not charge_id or user_id is None:
            raise ProviderRejected(
                "a Stars refund needs the charge id and the payer's Telegram id",
                code="missing_charge",
            )
        if request.amount.currency != STARS:
            raise ProviderRejected(
                f"Stars refunds are in {STARS}, not {request.amount.currency}",
                code="unsupported_currency",
            )
        charge = await self.client.find_transaction(lambda t: t.incoming and t.id == charge_id)
        if charge is not None:
            if charge.invoice_payload != request.provider_payment_id:
                raise ProviderRejected(
                    f"the charge paid {charge.invoice_payload!r}, "
                    f"not {request.provider_payment_id!r}",
                    code="charge_mismatch",
                )
            if charge.amount != request.amount.amount_minor:
                raise ProviderRejected(
                    f"only the whole charge ({charge.amount} Stars) can be refunded, "
                    f"not {request.amount.amount_minor}",
                    code="partial_refund",
                )
        try:
            await self.client.refund_star_payment(user_id=user_id, charge_id=charge_id)
        except TelegramRejected as exc:
            if exc.code != ALREADY_REFUNDED:
                raise
        return RefundState(
            provider_refund_id=refund_id(charge_id),
            provider_payment_id=request.provider_payment_id,
            status=RefundStatus.SUCCEEDED,
            amount=request.amount,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def refund_id(charge_id: str) -> str:
    """A refund's id: Telegram gives none, and a charge is refunded at most once."""
    return f"{REFUND_PREFIX}{charge_id}"
