"""What the gateway knows of each payment provider's webhooks: where they come from and
which payment a body claims to be about. Nothing here is trusted; billing verifies.

The published source networks are a cheap first filter at the edge (switched on in
production); the claimed payment id only keys the Kafka record, so that notifications
about one payment stay in order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*cidrs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# payments.md §1.11, as YooKassa's documentation publishes them.
YOOKASSA_NETWORKS: Final = _networks(
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)
# payments.md §2.8: the addresses several independent integrations name.
WATA_NETWORKS: Final = _networks("62.84.126.140/32", "51.250.106.150/32")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def _yookassa(body: dict[str, Any]) -> str | None:
    obj = body.get("object")
    event = body.get("event")
    if (
        body.get("type") != "notification"
        or not isinstance(event, str)
        or not isinstance(obj, dict)
    ):
        return None
    return _text(obj.get("payment_id") if event.startswith("refund.") else obj.get("id"))


def _wata(body: dict[str, Any]) -> str | None:
    return _text(body.get("paymentLinkId")) or _text(body.get("orderId"))


def _cryptopay(body: dict[str, Any]) -> str | None:
    payload = body.get("payload")
    invoice_id = payload.get("invoice_id") if isinstance(payload, dict) else None
    if isinstance(invoice_id, int) and not isinstance(invoice_id, bool) and invoice_id > 0:
        return str(invoice_id)
    return None


@dataclass(frozen=True, slots=True)
class ProviderWebhook:
    provider: str
    reference: Callable[[dict[str, Any]], str | None]
    networks: tuple[Network, ...] | None = None
    """Where the provider sends from, if it publishes that; None: anywhere."""
    must_reference: bool = False
    """Refuse a body that names no payment (YooKassa's bodies always do; the signed ones of
    other providers are passed on, for billing to judge and record)."""

    def from_allowed_source(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return self.networks is None or any(address in network for network in self.networks)


PROVIDER_WEBHOOKS: Final = (
    ProviderWebhook("yookassa", _yookassa, YOOKASSA_NETWORKS, must_reference=True),
    ProviderWebhook("wata", _wata, WATA_NETWORKS),
    ProviderWebhook("cryptopay", _cryptopay),
)
