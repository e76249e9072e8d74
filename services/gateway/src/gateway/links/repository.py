"""The stable link's read model: every statement on ``link_tokens`` and ``served_access``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SERVED_STATUSES = ("active", "on_hold", "limited")
"""Statuses whose links are served: ``limited`` too (the app shows the traffic used up,
and the links work again once traffic is added)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Only a newer version replaces a token: an older event read late changes nothing.
_PUT_TOKEN = text(
    """
    INSERT INTO link_tokens (customer_id, token_sha256, version, updated_at)
    VALUES (:customer, :digest, :version, now())
    ON CONFLICT (customer_id) DO UPDATE
    SET token_sha256 = EXCLUDED.token_sha256, version = EXCLUDED.version, updated_at = now()
    WHERE link_tokens.version < EXCLUDED.version
    """
)
_PUT_ACCESS = text(
    """
    INSERT INTO served_access (subscription_id, customer_id, links, status, expires_at,
                               traffic_limit_bytes, used_traffic_bytes, updated_at)
    VALUES (:subscription, :customer, :links, 'active', :expires_at, :limit, 0, now())
    ON CONFLICT (subscription_id) DO UPDATE
    SET links = EXCLUDED.links, status = 'active', expires_at = EXCLUDED.expires_at,
        traffic_limit_bytes = EXCLUDED.traffic_limit_bytes, updated_at = now()
    """
)
_PUT_STATUS = text(
    """
    UPDATE served_access
    SET status = :status, used_traffic_bytes = :used, traffic_limit_bytes = :limit,
        updated_at = now()
    WHERE subscription_id = :subscription
    """
)
_FORGET_ACCESS = text("DELETE FROM served_access WHERE subscription_id = :subscription")
_SERVED = text(
    """
    SELECT a.links, a.status, a.expires_at, a.traffic_limit_bytes, a.used_traffic_bytes
    FROM link_tokens t JOIN served_access a ON a.customer_id = t.customer_id
    WHERE t.token_sha256 = :digest
    ORDER BY a.expires_at DESC
    """
)
_KNOWN = text("SELECT 1 FROM link_tokens WHERE token_sha256 = :digest")


async def put_token(session: AsyncSession, customer_id: UUID, token: str, version: int) -> None:
    await session.execute(
        _PUT_TOKEN, {"customer": customer_id, "digest": token_digest(token), "version": version}
    )


async def put_access(
    session: AsyncSession,
    *,
    subscription_id: UUID,
    customer_id: UUID,
    links: list[str],
    expires_at: datetime,
    traffic_limit_bytes: int,
) -> None:
    await session.execute(
        _PUT_ACCESS,
        {
            "subscription": subscription_id,
            "customer": customer_id,
            "links": links,
            "expires_at": expires_at,
            "limit": traffic_limit_bytes,
        },
    )


async def put_status(
    session: AsyncSession, subscription_id: UUID, status: str, used: int, limit: int
) -> None:
    await session.execute(
        _PUT_STATUS,
        {"subscription": subscription_id, "status": status, "used": used, "limit": limit},
    )


async def forget_access(session: AsyncSession, subscription_id: UUID) -> None:
    await session.execute(_FORGET_ACCESS, {"subscription": subscription_id})


@dataclass(frozen=True, slots=True)
class CustomerAccess:
    links: tuple[str, ...]
    """Of every usable subscription, the latest-ending first, each link once."""
    used_traffic_bytes: int
    traffic_limit_bytes: int
    """0: unlimited."""
    expires_at: datetime | None


async def served(session: AsyncSession, token: str, now: datetime) -> CustomerAccess | None:
    """What the token serves now; None for a token that is unknown or revoked."""
    digest = token_digest(token)
    rows = (await session.execute(_SERVED, {"digest": digest})).all()
    if not rows and (await session.execute(_KNOWN, {"digest": digest})).first() is None:
        return None
    usable = [row for row in rows if row.status in SERVED_STATUSES and row.expires_at > now]
    links = tuple(dict.fromkeys(link for row in usable for link in row.links))
    unlimited = any(row.traffic_limit_bytes == 0 for row in usable)
    return CustomerAccess(
        links=links,
        used_traffic_bytes=sum(row.used_traffic_bytes for row in usable),
        traffic_limit_bytes=0 if unlimited else sum(row.traffic_limit_bytes for row in usable),
        expires_at=max((row.expires_at for row in usable), default=None),
    )
