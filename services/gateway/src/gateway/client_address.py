"""The address a request really came from, behind the operator's reverse proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BadForwardedFor(ValueError):
    """A trusted proxy forwarded a hop that is not an address (``unknown``, garbage)."""


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> Address:
    """Walk X-Forwarded-For from the right while the hop is a trusted proxy.

    Only proxies the operator named may speak for the client; anything a client writes
    into the header itself sits to the left of the first untrusted hop and is ignored, and
    so is the whole header when the peer itself is not trusted. A hop that a trusted proxy
    vouches for but that is not an address cannot be placed: :class:`BadForwardedFor`.
    """
    current = parse_hop(peer)
    if current is None:
        raise BadForwardedFor(f"peer {peer!r} is not an address")
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    while _is_trusted(current, trusted) and hops:
        hop = hops.pop()
        parsed = parse_hop(hop)
        if parsed is None:
            raise BadForwardedFor(f"X-Forwarded-For hop {hop[:64]!r} is not an address")
        current = parsed
    return current


def parse_hop(hop: str) -> Address | None:
    """An address as proxies write it: bare, ``1.2.3.4:port``, or ``[v6]:port``."""
    text = hop.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)
