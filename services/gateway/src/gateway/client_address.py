"""The address a request really came from, behind the operator's reverse proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """Walk X-Forwarded-For from the right while the hop is a trusted proxy.

    Only proxies the operator named may speak for the client; anything a client writes
    into the header itself sits to the left of the first untrusted hop and is ignored.
    """
    hops = [peer]
    if forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()] + [peer]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0]


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
