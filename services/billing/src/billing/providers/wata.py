"""WATA (H2H acquiring) behind the provider seam: payment links, signed webhooks, refunds.

The client follows WATA's rules (``payments.md`` §2): a Bearer token per terminal; no
idempotence key anywhere, so a retry first looks up what an earlier try may have made,
by our order id; GETs of one object are limited to one per 30 s, so webhooks carry the
news and fetching is the fallback. A webhook is believed on its signature alone: RSA
PKCS#1 v1.5 with SHA-512 over the raw body, checked with the key WATA serves at
``/public-key`` (and, in production, only from WATA's published addresses).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeVar

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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
from contracts.money import Money

RATE_LIMIT_WINDOW_S: Final = 30.0
"""WATA answers one GET per object (a link, a transaction, an order's search) per 30 s."""

# Where WATA's webhooks come from, as integrations allowlist them (payments.md §2.8); an
# extra filter only, the signature is what proves a webhook genuine.
SOURCE_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(address) for address in ("62.84.126.140", "51.250.106.150")
)

_OBJECT_ID: Final = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_REASON: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# One page, because the next one would be a second GET of the same search inside the
# window; an order has a few transactions (declined tries, a payment, its refunds).
_SEARCH_PAGE: Final = 100
_PAID: Final = "Paid"
_DECLINED: Final = "Declined"
_CLOSED: Final = "Closed"
_OPENED: Final = "Opened"
_PAYMENT: Final = "Payment"
_REFUND: Final = "Refund"


@dataclass(frozen=True, slots=True, kw_only=True)
class WataSettings:
    """One WATA terminal: its token implies the terminal, so requests never name it."""

    access_token: str = field(repr=False)
    check_source_address: bool
    """Accept webhooks only from WATA's published addresses (production)."""
    api_url: str = "https://api.wata.pro/api/h2h"
    timeout_s: float = 30.0
    """WATA allows itself a minute (§2.1); giving up sooner only makes the outcome unknown,
    which the lookup before a retry resolves."""
    link_lifetime: timedelta = timedelta(hours=1)
    """How long a link stays payable unless the request says; WATA accepts 10 min to 30 days."""
    success_redirect_url: str = "https://t.me/"
    fail_redirect_url: str = "https://t.me/"
    public_key_ttl: timedelta = timedelta(hours=1)
    """How long the webhook key is trusted before it is fetched again (§2.8: 10 min-24 h)."""


class WataError(ProviderError):
    """Any failure talking to WATA."""


class WataUnavailable(WataError, ProviderUnavailable):
    """No definite answer (5xx, 429, timeout, network, nonsense): look up, then retry."""


class WataRejected(WataError, ProviderRejected):
    """A definite refusal; ``code`` is WATA's (``Payment:PL_1001``) where it gave one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        ProviderRejected.__init__(self, f"{status} {code}: {message}", code=code)
        self.status = status


class WataNotFound(WataRejected, PaymentNotFound):
    """WATA has no object with this id (or the id cannot be one)."""

    def __init__(self, message: str) -> None:
        WataRejected.__init__(self, 404, "not_found", message)


@dataclass(frozen=True, slots=True)
class WataLink:
    """The fields of a payment link billing acts on."""

    id: str
    url: str
    status: str
    amount: Money
    order_id: str | None
    expires_at: datetime | None

    @classmethod
    def from_api(cls, body: Any) -> WataLink:
        """Parse a link object; raises ``ValueError`` if it is not one."""
        fields = _object(body)
        return cls(
            id=_text(fields, "id"),
            url=_text(fields, "url"),
            status=_text(fields, "status"),
            amount=_money(fields),
            order_id=_optional_text(fields, "orderId"),
            expires_at=_moment(fields.get("expirationDateTime")),
        )


@dataclass(frozen=True, slots=True)
class WataTransaction:
    """A payment or refund transaction, from a GET, a search, a webhook or a refund answer."""

    id: str
    kind: str
    status: str
    amount: Money
    order_id: str | None
    payment_link_id: str | None
    payment_time: datetime | None
    error_code: str | None
    original_transaction_id: str | None = None
    """Only in the answer to a refund; neither GETs nor webhooks carry it."""

    @classmethod
    def from_api(cls, body: Any) -> WataTransaction:
        """The ``GET /transactions`` shape: ``id`` and ``status``."""
        return cls._parse(_object(body), id_field="id", status_field="status")

    @classmethod
    def from_event(cls, body: Any) -> WataTransaction:
        """The webhook and refund-answer shape: ``transactionId``, ``transactionStatus``."""
        return cls._parse(_object(body), id_field="transactionId", status_field="transactionStatus")

    @classmethod
    def _parse(
        cls, fields: Mapping[str, Any], *, id_field: str, status_field: str
    ) -> WataTransaction:
        return cls(
            id=_text(fields, id_field),
            kind=_text(fields, "kind"),
            status=_text(fields, status_field),
            amount=_money(fields),
            order_id=_optional_text(fields, "orderId"),
            payment_link_id=_optional_text(fields, "paymentLinkId"),
            payment_time=_moment(fields.get("paymentTime")),
            error_code=_optional_text(fields, "errorCode"),
            original_transaction_id=_optional_text(fields, "originalTransactionId"),
        )

    def payment_state(self, link_id: str) -> PaymentState:
        if self.status == _PAID:
            status = PaymentStatus.SUCCEEDED
        elif self.status == _DECLINED:
            # A declined card leaves the link open: the customer may pay again on it.
            return PaymentState(
                provider_payment_id=link_id,
                status=PaymentStatus.CANCELED,
                amount=self.amount,
                order_ref=self.order_id,
                occurred_at=self.payment_time,
                cancellation_party="payment_network",
                cancellation_reason=_reason(self.error_code),
                charge_id=self.id,
                final=False,
            )
        else:
            status = PaymentStatus.PENDING
        return PaymentState(
            provider_payment_id=link_id,
            status=status,
            amount=self.amount,
            order_ref=self.order_id,
            occurred_at=self.payment_time,
            charge_id=self.id,
        )

    def refund_state(self, payment_id: str) -> RefundState:
        return RefundState(
            provider_refund_id=self.id,
            provider_payment_id=payment_id,
            status=_REFUND_STATUSES.get(self.status, RefundStatus.PENDING),
            amount=self.amount,
            occurred_at=self.payment_time,
        )


_REFUND_STATUSES: Final = {_PAID: RefundStatus.SUCCEEDED, _DECLINED: RefundStatus.CANCELED}


def _reason(error_code: str | None) -> str:
    if error_code is not None and _REASON.fullmatch(error_code):
        return error_code
    return "declined"


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValueError(f"not a JSON object: {type(body).__name__}")
    return body


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is not a non-empty string: {value!r}")
    return value


def _optional_text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string: {value!r}")
    return value


def _money(fields: Mapping[str, Any]) -> Money:
    """``amount`` is a JSON number (read as ``Decimal``, never a float), in ``currency``."""
    value = fields.get("amount")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"amount is not a number: {value!r}")
    return Money.from_decimal(Decimal(value), _text(fields, "currency"))


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    moment = datetime.fromisoformat(value)
    # WATA's times are UTC (§2.3); one written without the Z means the same.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _wata_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"a time without a zone: {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(fields: Mapping[str, str | Decimal]) -> bytes:
    """A flat JSON object whose ``Decimal`` values are numbers written digit for digit.

    ``json.dumps`` refuses a ``Decimal`` and a float would print ``299.0`` or worse.
    """
    members = (
        json.dumps(name)
        + ":"
        + (format(value, "f") if isinstance(value, Decimal) else json.dumps(value))
        for name, value in fields.items()
    )
    return ("{" + ",".join(members) + "}").encode()


def is_object_id(value: str) -> bool:
    """Whether ``value`` can be a WATA link or transaction id (it goes into a URL path)."""
    return _OBJECT_ID.fullmatch(value) is not None


def is_webhook_source(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped in SOURCE_ADDRESSES
    return ip in SOURCE_ADDRESSES


class WataClient:
    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = third_party_client(
            base_url=base_url.rstrip("/") + "/",
            timeout_s=timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._authorization = {"Authorization": f"Bearer {access_token}"}

    async def create_link(
        self,
        *,
        amount: Money,
        description: str,
        order_id: str,
        success_redirect_url: str,
        fail_redirect_url: str,
        expires_at: datetime,
    ) -> WataLink:
        """A one-time link; not idempotent: a retry must look for this one first."""
        body = _json(
            {
                "amount": amount.to_decimal(),
                "currency": amount.currency,
                "description": description,
                "orderId": order_id,
                "successRedirectUrl": success_redirect_url,
                "failRedirectUrl": fail_redirect_url,
                "expirationDateTime": _wata_time(expires_at),
            }
        )
        return _parsed(WataLink.from_api, await self._request("POST", "links", content=body))

    async def get_link(self, link_id: str) -> WataLink:
        if not is_object_id(link_id):
            raise WataNotFound(f"{link_id!r} is not a link id")
        return _parsed(WataLink.from_api, await self._request("GET", f"links/{link_id}"))

    async def find_links(self, order_id: str) -> list[WataLink]:
        answer = await self._request(
            "GET", "links", params={"OrderId": order_id, "MaxResultCount": str(_SEARCH_PAGE)}
        )
        return [_parsed(WataLink.from_api, item) for item in _items(answer)]

    async def get_transaction(self, transaction_id: str) -> WataTransaction:
        if not is_object_id(transaction_id):
            raise WataNotFound(f"{transaction_id!r} is not a transaction id")
        answer = await self._request("GET", f"transactions/{transaction_id}")
        return _parsed(WataTransaction.from_api, answer)

    async def find_transactions(self, order_id: str) -> list[WataTransaction]:
        """The order's payments and refunds, newest first (the first page only)."""
        answer = await self._request(
            "GET",
            "v2/transactions",
            params={"OrderId": order_id, "MaxResultCount": str(_SEARCH_PAGE)},
        )
        return [_parsed(WataTransaction.from_api, item) for item in _items(answer)]

    async def create_refund(
        self, *, original_transaction_id: str, amount: Money
    ) -> WataTransaction:
        """Not idempotent: a retry must look for this refund first. The currency is the
        original's, so only the number is sent."""
        body = _json(
            {"originalTransactionId": original_transaction_id, "amount": amount.to_decimal()}
        )
        answer = await self._request("POST", "transactions/refunds", content=body)
        return _parsed(WataTransaction.from_event, answer)

    async def public_key(self) -> rsa.RSAPublicKey:
        """The key webhooks are signed with; served without auth, so none is sent."""
        answer = await self._request("GET", "public-key", authorized=False)
        try:
            pem = _text(_object(answer), "value")
            # Some copies of the key arrive with the newlines escaped (§2.8).
            key = serialization.load_pem_public_key(pem.replace("\\n", "\n").encode())
        except ValueError as exc:
            raise WataUnavailable(f"GET public-key: not a PEM key: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise WataUnavailable(f"GET public-key: not an RSA key: {type(key).__name__}")
        return key

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        authorized: bool = True,
    ) -> Any:
        headers = dict(self._authorization) if authorized else {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise WataUnavailable(f"{method} {path}: {exc!r}") from exc
        status = response.status_code
        if status == 200:
            try:
                return json.loads(response.content, parse_float=Decimal)
            except ValueError as exc:
                raise WataUnavailable(f"{method} {path}: the answer is not JSON") from exc
        if status == 429:
            raise WataUnavailable(
                f"{method} {path}: rate-limited (one GET per object per 30 s)",
                retry_after_s=RATE_LIMIT_WINDOW_S,
            )
        if status >= 500:
            raise WataUnavailable(f"{method} {path}: HTTP {status}")
        if status == 401:
            raise WataRejected(
                401,
                "unauthorized",
                "WATA refused the access token (expired, revoked, or another environment's): "
                "a configuration problem, not the customer's",
            )
        if status == 404:
            raise WataNotFound(f"{method} {path}: {_error_text(response) or 'not found'}")
        code = _error(response).get("code")
        if not isinstance(code, str) or not code:
            code = "invalid_request" if status == 400 else f"http_{status}"
        raise WataRejected(status, code, _error_text(response) or response.reason_phrase)

    async def aclose(self) -> None:
        await self._http.aclose()


_Parsed = TypeVar("_Parsed")


def _parsed(parse: Callable[[Any], _Parsed], body: Any) -> _Parsed:
    try:
        return parse(body)
    except (ValueError, TypeError) as exc:
        raise WataUnavailable(f"not a WATA object: {exc}") from exc


def _items(answer: Any) -> list[Any]:
    items = answer.get("items") if isinstance(answer, Mapping) else None
    if not isinstance(items, list):
        raise WataUnavailable("a search answer without items")
    return items


def _error(response: httpx.Response) -> Mapping[str, Any]:
    """The ``error`` object of WATA's error body (``{"error": {"code", "message", ...}}``)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_text(response: httpx.Response) -> str:
    error = _error(response)
    parts = [str(error[name]) for name in ("message", "details") if error.get(name)]
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class _Key:
    key: rsa.RSAPublicKey
    fetched_at: float


def _signed(key: rsa.RSAPublicKey, signature: bytes, body: bytes) -> bool:
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        return False
    return True


class Wata:
    """The provider ``wata``: cards, SBP and T-Pay by payment link, in RUB, USD and EUR."""

    name = "wata"
    capabilities = Capabilities(
        currencies=frozenset({"RUB", "USD", "EUR"}),
        refunds=True,
        partial_refunds=True,
        recurring=False,
        min_amount_minor={"RUB": 1000, "USD": 100, "EUR": 100},
        max_amount_minor={"RUB": 99999999, "USD": 99999999, "EUR": 99999999},
        receipts=False,
    )

    def __init__(
        self, settings: WataSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = WataClient(
            base_url=settings.api_url,
            access_token=settings.access_token,
            timeout_s=settings.timeout_s,
            transport=transport,
        )
        self._key: _Key | None = None
        self._key_lock = asyncio.Lock()

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """A link for the order; a retry returns the open link an earlier try made.

        WATA has no idempotence key, so on ``attempt > 1`` the order's links are searched
        (``orderId`` is our order id) before a second one is created.
        """
        if request.saved_method_id is not None:
            raise ProviderRejected("WATA cannot charge a saved method", code="not_supported")
        order_id = str(request.order_id)
        if request.attempt > 1:
            for link in await self.client.find_links(order_id):
                if link.status == _OPENED and link.amount == request.amount:
                    return CreatedPayment(link.id, link.url, expires_at=link.expires_at)
        expires_at = request.expires_at or datetime.now(UTC) + self.settings.link_lifetime
        link = await self.client.create_link(
            amount=request.amount,
            description=request.description,
            order_id=order_id,
            success_redirect_url=request.return_url or self.settings.success_redirect_url,
            fail_redirect_url=request.return_url or self.settings.fail_redirect_url,
            expires_at=expires_at,
        )
        return CreatedPayment(link.id, link.url, expires_at=link.expires_at or expires_at)

    async def verify(self, notification: Notification) -> Verdict:
        """Believe a webhook on its signature over the exact bytes received.

        The key is cached; a signature that fails with a cached key gets one more try with
        a key fetched afresh, since WATA may have rotated it. Failing to fetch the key
        raises ``ProviderUnavailable``: the webhook cannot be judged yet.
        """
        if self.settings.check_source_address and not is_webhook_source(
            notification.remote_address
        ):
            return Refused("rejected_source", "sender is not one of WATA's addresses")
        header = notification.headers.get("x-signature", "").strip()
        if not header:
            return Refused("rejected_signature", "no X-Signature")
        try:
            signature = base64.b64decode(header, validate=True)
        except (binascii.Error, ValueError):
            return Refused("rejected_signature", "X-Signature is not base64")
        cached = self._key
        key = await self._verifier_key()
        genuine = _signed(key.key, signature, notification.body)
        if not genuine and key is cached:
            renewed = await self._verifier_key(stale=key)
            genuine = renewed is not key and _signed(renewed.key, signature, notification.body)
        if not genuine:
            return Refused("rejected_signature", "X-Signature does not match the body")
        return _webhook_fact(notification.body)

    async def fetch_payment(self, provider_payment_id: str) -> PaymentState:
        """The link and the order's transactions.

        Two GETs that WATA allows once per 30 s each: fetching the same link again sooner
        raises ``ProviderUnavailable`` with ``retry_after_s``; webhooks are the news, this
        is the reconciliation.
        """
        link = await self.client.get_link(provider_payment_id)
        if link.order_id is None:
            # Every link billing creates names its order; without it the payment cannot
            # be told apart from an expired one.
            raise ProviderRejected(f"link {link.id} has no orderId", code="not_ours")
        for transaction in await self.client.find_transactions(link.order_id):
            if (
                transaction.kind == _PAYMENT
                and transaction.status == _PAID
                and (transaction.payment_link_id or "").lower() == link.id.lower()
            ):
                return transaction.payment_state(link.id)
        if link.status == _CLOSED:
            return PaymentState(
                provider_payment_id=link.id,
                status=PaymentStatus.CANCELED,
                amount=link.amount,
                order_ref=link.order_id,
                occurred_at=link.expires_at,
                cancellation_party="wata",
                cancellation_reason="expired",
            )
        return PaymentState(
            provider_payment_id=link.id,
            status=PaymentStatus.PENDING,
            amount=link.amount,
            order_ref=link.order_id,
        )

    async def refund(self, request: RefundRequest) -> RefundState:
        """Refund (part of) the paid transaction ``request.charge_id``.

        WATA keeps no idempotence key, and a refund carries nothing of ours to find it
        by. So before posting, the order's transactions are searched: a refund of this
        payment with exactly this amount that WATA has not declined is taken to be an
        earlier try of this request, and returned instead of refunding again. The price
        is that two refunds of the same amount on one payment cannot be made: the second
        returns the first one's ``provider_refund_id``, which the caller already holds.
        Costs two GETs before the POST, each limited to one per 30 s.
        """
        if not request.charge_id:
            raise ProviderRejected(
                "a WATA refund names the paid transaction: no charge_id given",
                code="no_charge_id",
            )
        original = await self.client.get_transaction(request.charge_id)
        if original.kind != _PAYMENT or (original.payment_link_id or "").lower() != (
            request.provider_payment_id.lower()
        ):
            raise ProviderRejected(
                f"transaction {original.id} is not a payment on link {request.provider_payment_id}",
                code="charge_mismatch",
            )
        if original.amount.currency != request.amount.currency:
            raise ProviderRejected(
                f"the payment is in {original.amount.currency}, not {request.amount.currency}",
                code="currency_mismatch",
            )
        if original.order_id is not None:
            for earlier in await self.client.find_transactions(original.order_id):
                if (
                    earlier.kind == _REFUND
                    and earlier.status != _DECLINED
                    and earlier.amount == request.amount
                    and (earlier.payment_link_id or "").lower()
                    == (original.payment_link_id or "").lower()
                ):
                    return earlier.refund_state(request.provider_payment_id)
        created = await self.client.create_refund(
            original_transaction_id=original.id, amount=request.amount
        )
        return created.refund_state(request.provider_payment_id)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _verifier_key(self, *, stale: _Key | None = None) -> _Key:
        """The cached key while fresh, else one fetched now; one fetch for many callers."""
        async with self._key_lock:
            cached, ttl = self._key, self.settings.public_key_ttl.total_seconds()
            if (
                cached is not None
                and cached is not stale
                and time.monotonic() - cached.fetched_at < ttl
            ):
                return cached
            try:
                key = await self.client.public_key()
            except ProviderRejected as exc:
                raise WataUnavailable(f"cannot fetch WATA's webhook key: {exc}") from exc
            self._key = _Key(key, time.monotonic())
            return self._key


def _webhook_fact(body: bytes) -> Verdict:
    """What a genuine webhook says; the body is WATA's, so only its shape can be wrong."""
    try:
        parsed = json.loads(body, parse_float=Decimal)
        fields = _object(parsed)
        kind = _text(fields, "kind")
        if kind not in (_PAYMENT, _REFUND):
            return Refused("ignored", f"billing does not act on {kind} webhooks")
        transaction = WataTransaction.from_event(fields)
    except (ValueError, TypeError) as exc:
        return Refused("rejected_malformed", f"not a WATA webhook: {exc}")
    if transaction.kind == _PAYMENT:
        if transaction.payment_link_id is None:
            return Refused("ignored", "a payment without a link: billing only makes links")
        return Verified(transaction.payment_state(transaction.payment_link_id))
    # A refund webhook carries the original payment's paymentLinkId (the id billing knows
    # the payment by), not originalTransactionId, which only the refund answer has; that
    # is the fallback, so that a refund without a link still settles by its own id.
    payment_id = transaction.payment_link_id or transaction.original_transaction_id
    if payment_id is None:
        return Refused("rejected_malformed", "a refund webhook that names no payment")
    return Verified(transaction.refund_state(payment_id))
