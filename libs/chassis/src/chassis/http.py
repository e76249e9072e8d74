"""Outbound HTTP to third parties (payment providers, panels, Telegram): one way to make
the client, so that every one has the same bounded pool."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

# httpcore scans every pooled connection (and every queued request) each time a request
# starts or ends, so a pool of many connections costs CPU on every call: callers keep
# their concurrency near this bound rather than queueing hundreds of requests here.
POOL_LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=30)


def third_party_client(
    *,
    base_url: str,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """An HTTP client for one third party's API at ``base_url``."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout_s,
        transport=transport,
        headers=headers,
        auth=auth,
        limits=POOL_LIMITS,
    )
