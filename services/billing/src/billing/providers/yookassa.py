"""YooKassa API v3 client: create a payment, read one back. Basic auth, Idempotence-Key.

Only what billing needs, following the provider's rules: a 500 or a timeout leaves the
result unknown, so the same request is repeated with the same key; a 4xx is final.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx

from contracts.money import Money

_PAYMENT_ID: Final = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_DESCRIPTION: Final = 128


class YooKassaError(Exception):
    """Any failure talking to YooKassa."""


class YooKassaUnavailable(YooKassaError):
    """No definite answer (5xx, 429, 202, timeout, network): retry with the same key."""


class YooKassaRejected(YooKassaError):
    """A definite refusal (4xx): retrying the same request cannot succeed."""

    def __init__(self, status: int, code: str, description: str, parameter: str | None) -> None:
        detail = f"{status} {code}: {description}" + (f" ({parameter})" if parameter else "")
        super().__init__(detail)
        self.status = status
        self.code = code
        self.description = description
        self.parameter = parameter


class PaymentNotFound(YooKassaRejected):
    """YooKassa has no payment with this id (or the id cannot be one)."""


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

    @classmethod
    def from_api(cls, body: Any) -> YooKassaPayment:
        """Parse a payment object; raises ``YooKassaError`` if it is not one."""
        try:
            amount = body["amount"]
            confirmation = body.get("confirmation") or {}
            cancellation = body.get("cancellation_details") or {}
            metadata = body.get("metadata") or {}
            return cls(
                id=str(body["id"]),
                status=str(body["status"]),
                paid=bool(body["paid"]),
                amount=Money.from_decimal(str(amount["value"]), str(amount["currency"])),
                created_at=_timestamp(body["created_at"]),
                metadata={str(k): str(v) for k, v in metadata.items()},
                confirmation_url=confirmation.get("confirmation_url"),
                captured_at=_optional_timestamp(body.get("captured_at")),
                expires_at=_optional_timestamp(body.get("expires_at")),
                cancellation_party=cancellation.get("party"),
                cancellation_reason=cancellation.get("reason"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise YooKassaError(f"not a YooKassa payment object: {exc!r}") from exc


def _timestamp(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {value!r}")
    return parsed


def _optional_timestamp(value: Any) -> datetime | None:
    return None if value is None else _timestamp(value)


def is_payment_id(value: str) -> bool:
    """Whether ``value`` can be a YooKassa payment id (it goes into a URL path)."""
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
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            auth=httpx.BasicAuth(shop_id, secret_key),
            timeout=timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def create_payment(
        self,
        *,
        idempotence_key: str,
        amount: Money,
        description: str,
        return_url: str,
        metadata: dict[str, str],
    ) -> YooKassaPayment:
        """One-stage payment with a redirect confirmation; repeats are safe with the same key."""
        body = {
            "amount": {"value": f"{amount.to_decimal()}", "currency": amount.currency},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": description[:MAX_DESCRIPTION],
            "metadata": metadata,
        }
        response = await self._request(
            "POST", "payments", json=body, headers={"Idempotence-Key": idempotence_key}
        )
        return YooKassaPayment.from_api(response)

    async def get_payment(self, payment_id: str) -> YooKassaPayment:
        if not is_payment_id(payment_id):
            raise PaymentNotFound(404, "not_found", "not a payment id", None)
        return YooKassaPayment.from_api(await self._request("GET", f"payments/{payment_id}"))

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
        error_class = PaymentNotFound if response.status_code == 404 else YooKassaRejected
        raise error_class(
            response.status_code,
            str(error.get("code", "unknown")),
            str(error.get("description", response.reason_phrase)),
            error.get("parameter"),
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# Where YooKassa sends notifications from, as its documentation publishes them.
NOTIFICATION_NETWORKS: Final = tuple(
    ipaddress.ip_network(network)
    for network in (
        "185.71.76.0/27",
        "185.71.77.0/27",
        "77.75.153.0/25",
        "77.75.156.11/32",
        "77.75.156.35/32",
        "77.75.154.128/25",
        "2a02:5180::/32",
    )
)


def is_notification_source(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in NOTIFICATION_NETWORKS)
