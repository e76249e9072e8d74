"""``GET /sub/{token}``: a customer's one stable subscription link.

Served from the gateway's own read model, so a customer's app keeps working across
failovers and moves without re-importing anything: the same token answers with the
links of wherever their access is now. An unknown or revoked token gets a bare 404 (no
detail to probe with); a known one with no usable access gets an empty document, which
apps show as "no servers" with the expiry header, rather than an error.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.db import transaction
from gateway.links import formats, repository, share_links
from gateway.links.share_links import Proxy, UnreadableLink

log = logging.getLogger(__name__)

SUBSCRIPTION_FETCHES = Counter(
    "gateway_subscription_fetches_total",
    "Stable-link fetches by format and outcome (served, empty, not_found, bad_format)",
    ["format", "outcome"],
)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
UPDATE_INTERVAL_HOURS = "12"


@functools.lru_cache(maxsize=8192)
def _proxy(link: str) -> Proxy | None:
    # The same links are read on every fetch of every app: read once.
    try:
        return share_links.read(link)
    except UnreadableLink as exc:
        # Never the link itself: it carries the customer's credentials.
        log.warning(
            "a share link cannot be read; left out of Clash and sing-box documents",
            extra={"scheme": link.partition("://")[0], "error": str(exc)},
        )
        return None


def header_text(value: str) -> str:
    """A header value as apps read it: non-ASCII (a title in Russian) as ``base64:...``."""
    if value.isascii():
        return value
    return "base64:" + base64.b64encode(value.encode()).decode()


def _not_found(fmt: str) -> Response:
    SUBSCRIPTION_FETCHES.labels(fmt, "not_found").inc()
    return Response(status_code=404, content="Not Found", media_type="text/plain")


def subscription_router(
    sessions: async_sessionmaker[AsyncSession], *, title: str, support_url: str | None
) -> APIRouter:
    router = APIRouter()

    async def serve(request: Request, token: str, requested: str | None) -> Response:
        fmt = formats.format_for(request.headers.get("user-agent", ""), requested)
        if fmt is None:
            SUBSCRIPTION_FETCHES.labels("unknown", "bad_format").inc()
            return Response(
                status_code=400,
                content="unknown format; one of " + ", ".join(formats.FORMATS),
                media_type="text/plain",
            )
        if _TOKEN.fullmatch(token) is None:
            return _not_found(fmt)
        async with transaction(sessions) as session:
            access = await repository.served(session, token, datetime.now(UTC))
        if access is None:
            return _not_found(fmt)
        proxies = [p for p in map(_proxy, access.links) if p is not None]
        document = formats.render(fmt, access.links, proxies)
        SUBSCRIPTION_FETCHES.labels(fmt, "served" if access.links else "empty").inc()
        expire = int(access.expires_at.timestamp()) if access.expires_at else 0
        headers = {
            "subscription-userinfo": (
                f"upload=0; download={access.used_traffic_bytes}; "
                f"total={access.traffic_limit_bytes}; expire={expire}"
            ),
            "profile-update-interval": UPDATE_INTERVAL_HOURS,
            "profile-title": header_text(title),
            "content-disposition": 'attachment; filename="vpn"',
            "cache-control": "no-store",
        }
        if support_url:
            headers["support-url"] = support_url
        return Response(content=document.body, media_type=document.media_type, headers=headers)

    @router.get("/sub/{token}", include_in_schema=False)
    async def subscription(request: Request, token: str, format: str | None = None) -> Response:
        return await serve(request, token, format)

    @router.get("/sub/{token}/{client_format}", include_in_schema=False)
    async def subscription_in(request: Request, token: str, client_format: str) -> Response:
        return await serve(request, token, client_format)

    return router
