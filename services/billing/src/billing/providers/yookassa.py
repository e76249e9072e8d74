"""YooKassa (API v3) behind the provider seam: payments, saved methods, refunds, receipts.

The client follows YooKassa's rules (``payments.md`` §1): Basic auth, an Idempotence-Key
on every POST; a 500 or a timeout leaves the result unknown, so the same request is
repeated with the same key; a 4xx is final. Notifications are not signed: one is believed
only after the object it names is fetched back from the API (the gateway lets through
only YooKassa's published networks, in production).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

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
    Receipt,
    RefundRequest,
    RefundState,
    RefundStatus,
    Refused,
    SavedMethod,
    Verdict,
    Verified,
)
from billing.providers.wire import optional_timestamp, timestamp
from chassis.http import third_party_client
from contracts.money import Money

_PAYMENT_ID: Final = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_DESCRIPTION: Final = 128


class YooKassaError(ProviderError):
    """Any failure talking to YooKassa."""


class YooKassaUnavailable(YooKassaError, ProviderUnavailable):
    """No definite answer (5xx, 429, 202, timeout, network): retry with the same key."""


class YooKassaRejected(YooKassaError, ProviderRejected):
    """A definite refusal (4xx): retrying the same request cannot succeed."""

    def __init__(self, status: int, code: str, description: str, parameter: str | None) -> None:
        detail = f"{status} {code}: {description}" + (f" ({parameter})" if parameter else "")
        ProviderRejected.__init__(self, detail, code=code)
        self.status = status
        self.description = description
        self.parameter = parameter


class YooKassaNotFound(YooKassaRejected, PaymentNotFound):
    """YooKassa has no object with this id (or the id cannot be one)."""

    def __init__(self, status: int, code: str, description: str, parameter: str | None) -> None:
        YooKassaRejected.__init__(self, status, code, description, parameter)


@dataclass(frozen=True, slots=True)
class YooKassaPayment:
    """The fields of a YooKassa payment object billing acts on."""

    id: str
    status: str
    paid: bool
    amount: Money
    created_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)
    confirmation_url: str | None = None
    captured_at: datetime | None = None
    expires_at: datetime | None = None
    cancellation_party: str | None = None
    cancellation_reason: str | None = None
    saved_method_id: str | None = None
    saved_method_title: str | None = None

    @classmethod
    def from_api(cls, body: Any) -> YooKassaPayment:
        """Parse a payment object; raises ``YooKassaError`` if it is not one."""
        try:
            amount = body["amount"]
            confirmation = body.get("confirmation") or {}
            cancellation = body.get("cancellation_details") or {}
            metadata = body.get("metadata") or {}
            method = body.get("payment_method") or {}
            saved = method.get("saved") is True and isinstance(method.get("id"), str)
            return cls(
                id=str(body["id"]),
                status=str(body["status"]),
                paid=bool(body["paid"]),
                amount=Money.from_decimal(str(amount["value"]), str(amount["currency"])),
                created_at=timestamp(body["created_at"]),
                metadata={str(k): str(v) for k, v in metadata.items()},
                confirmation_url=confirmation.get("confirmation_url"),
                captured_at=optional_timestamp(body.get("captured_at")),
                expires_at=optional_timestamp(body.get("expires_at")),
                cancellation_party=cancellation.get("party"),
                cancellation_reason=cancellation.get("reason"),
                saved_method_id=method["id"] if saved else None,
                saved_method_title=str(method.get("title") or method.get("type"))
                if saved
                else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise YooKassaUnavailable(f"not a YooKassa payment object: {exc!r}") from exc

    def state(self) -> PaymentState:
        status = _PAYMENT_STATUSES.get(self.status, PaymentStatus.PENDING)
        return PaymentState(
            provider_payment_id=self.id,
            status=status,
            amount=self.amount,
            order_ref=self.metadata.get("order_id"),
            occurred_at=self.captured_at,
            cancellation_party=self.cancellation_party,
            cancellation_reason=self.cancellation_reason,
            saved_method=(
                SavedMethod(self.saved_method_id, self.saved_method_title or "")
                if self.saved_method_id
                else None
            ),
        )


_PAYMENT_STATUSES: Final = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
    # waiting_for_capture does not happen with capture=true; pending waits for the customer.
}
_REFUND_STATUSES: Final = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "canceled": RefundStatus.CANCELED,
}


def refund_state(body: Any) -> RefundState:
    try:
        amount = body["amount"]
        return RefundState(
            provider_refund_id=str(body["id"]),
            provider_payment_id=str(body["payment_id"]),
            status=_REFUND_STATUSES[str(body["status"])],
            amount=Money.from_decimal(str(amount["value"]), str(amount["currency"])),
            occurred_at=optional_timestamp(body.get("created_at")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise YooKassaUnavailable(f"not a YooKassa refund object: {exc!r}") from exc


def is_object_id(value: str) -> bool:
    """Whether ``value`` can be a YooKassa payment or refund id (it goes into a URL path)."""
    return _PAYMENT_ID.fullmatch(value) is not None


class YooKassaClient:
    def __init__(
        self,
        *,
        base_url: str,
        shop_id: str,
        secret_key: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = third_party_client(
            base_url=base_url.rstrip("/") + "/",
            auth=httpx.BasicAuth(shop_id, secret_key),
            timeout_s=timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def create_payment(
        self,
        *,
        idempotence_key: str,
        amount: Money,
        description: str,
        return_url: str | None,
        metadata: dict[str, str],
        save_payment_method: bool = False,
        payment_method_id: str | None = None,
        receipt: Receipt | None = None,
    ) -> YooKassaPayment:
        """One-stage payment; repeats are safe with the same key.

        With ``payment_method_id`` it charges a saved method without the customer (no
        confirmation); otherwise the customer is redirected to pay.
        """
        body: dict[str, Any] = {
            "amount": _amount(amount),
            "capture": True,
            "description": description[:MAX_DESCRIPTION],
            "metadata": metadata,
        }
        if payment_method_id is not None:
            body["payment_method_id"] = payment_method_id
        else:
            body["confirmation"] = {"type": "redirect", "return_url": return_url}
            if save_payment_method:
                body["save_payment_method"] = True
        if receipt is not None:
            body["receipt"] = _receipt(receipt)
        response = await self._request(
            "POST", "payments", json=body, headers={"Idempotence-Key": idempotence_key}
        )
        return YooKassaPayment.from_api(response)

    async def get_payment(self, payment_id: str) -> YooKassaPayment:
        if not is_object_id(payment_id):
            raise YooKassaNotFound(404, "not_found", "not a payment id", None)
        return YooKassaPayment.from_api(await self._request("GET", f"payments/{payment_id}"))

    async def create_refund(
        self,
        *,
        idempotence_key: str,
        payment_id: str,
        amount: Money,
        description: str,
        receipt: Receipt | None = None,
    ) -> RefundState:
        body: dict[str, Any] = {
            "payment_id": payment_id,
            "amount": _amount(amount),
            "description": description[:250],
        }
        if receipt is not None:
            body["receipt"] = _receipt(receipt)
        response = await self._request(
            "POST", "refunds", json=body, headers={"Idempotence-Key": idempotence_key}
        )
        return refund_state(response)

    async def get_refund(self, refund_id: str) -> RefundState:
        if not is_object_id(refund_id):
            raise YooKassaNotFound(404, "not_found", "not a refund id", None)
        return refund_state(await self._request("GET", f"refunds/{refund_id}"))

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise YooKassaUnavailable(f"{method} {path}: {exc!r}") from exc
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise YooKassaUnavailable(f"{method} {path}: body is not JSON") from exc
        if response.status_code in (202, 429) or response.status_code >= 500:
            raise YooKassaUnavailable(f"{method} {path}: HTTP {response.status_code}")
        error = _error_body(response)
        error_class = YooKassaNotFound if response.status_code == 404 else YooKassaRejected
        raise error_class(
            response.status_code,
            str(error.get("code", "unknown")),
            str(error.get("description", response.reason_phrase)),
            error.get("parameter"),
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _amount(amount: Money) -> dict[str, str]:
    return {"value": f"{amount.to_decimal()}", "currency": amount.currency}


def _receipt(receipt: Receipt) -> dict[str, Any]:
    """The 54-FZ receipt in YooKassa's fields (``payments.md`` §1.9)."""
    return {
        "customer": {"email": receipt.email},
        "items": [
            {
                "description": line.description[:128],
                "quantity": f"{line.quantity}.00",
                "amount": _amount(line.amount),
                "vat_code": receipt.vat_code,
                "payment_subject": receipt.payment_subject,
                "payment_mode": receipt.payment_mode,
            }
            for line in receipt.lines
        ],
    }


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class YooKassa:
    """The provider ``yookassa``: cards and SBP in roubles, autopay, refunds, receipts."""

    name = "yookassa"
    capabilities = Capabilities(
        currencies=frozenset({"RUB"}),
        refunds=True,
        partial_refunds=True,
        recurring=True,
        min_amount_minor={"RUB": 100},
        receipts=True,
    )

    def __init__(self, client: YooKassaClient, *, return_url: str) -> None:
        self.client = client
        self._return_url = return_url

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        payment = await self.client.create_payment(
            idempotence_key=request.idempotence_key,
            amount=request.amount,
            description=request.description,
            return_url=request.return_url or self._return_url,
            metadata={
                "order_id": str(request.order_id),
                "customer_id": str(request.customer_id),
            },
            save_payment_method=request.save_method,
            payment_method_id=request.saved_method_id,
            receipt=request.receipt,
        )
        needs_customer = request.saved_method_id is None and payment.status != "canceled"
        if needs_customer and payment.confirmation_url is None:
            raise ProviderRejected("YooKassa gave no confirmation URL", code="no_confirmation")
        state = payment.state()
        settled = state if state.status is not PaymentStatus.PENDING else None
        return CreatedPayment(
            provider_payment_id=payment.id,
            confirmation_url=payment.confirmation_url,
            expires_at=payment.expires_at,
            settled=settled,
        )

    async def verify(self, notification: Notification) -> Verdict:
        claim = _claimed_object(notification.body)
        if claim is None:
            return Refused("rejected_malformed", "not a YooKassa notification")
        event, object_id = claim
        try:
            if event.startswith("payment."):
                return Verified((await self.client.get_payment(object_id)).state())
            if event == "refund.succeeded":
                return Verified(await self.client.get_refund(object_id))
        except YooKassaNotFound:
            return Refused("rejected_unknown_payment", f"YooKassa has no object {object_id}")
        except YooKassaRejected as exc:
            return Refused("rejected_by_provider", str(exc))
        return Refused("ignored", f"billing does not act on {event}")

    async def fetch_payment(self, provider_payment_id: str) -> PaymentState:
        return (await self.client.get_payment(provider_payment_id)).state()

    async def refund(self, request: RefundRequest) -> RefundState:
        return await self.client.create_refund(
            idempotence_key=request.idempotence_key,
            payment_id=request.provider_payment_id,
            amount=request.amount,
            description=request.description,
            receipt=request.receipt,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def _claimed_object(body: bytes) -> tuple[str, str] | None:
    """The event and the id of the object a notification names, unverified."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or parsed.get("type") != "notification":
        return None
    event, obj = parsed.get("event"), parsed.get("object")
    if not isinstance(event, str) or not isinstance(obj, dict):
        return None
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id:
        return None
    return event, object_id
