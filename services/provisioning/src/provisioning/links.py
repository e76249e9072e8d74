"""Customers' stable subscription links: the token behind the gateway's ``/sub/{token}``.

A customer gets one token at their first access, kept for every subscription, panel and
failover after it: their app keeps its link. An operator revokes a leaked one by issuing
the next version (``python -m provisioning link rotate``); the gateway serves the newest
version only. The token is 192 random bits, URL-safe; it is the customer's secret, so it
travels only to the gateway, the bot and the notifier (the event), never into a log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.provisioning import AccessLinkIssued


@dataclass(frozen=True, slots=True)
class CustomerLinkToken:
    customer_id: UUID
    token: str
    version: int
    issued_at: datetime
    issued_now: bool
    """It did not exist before this call (or replaced the one before)."""

    def url(self, base_url: str | None) -> str | None:
        """What the customer is given; None when the platform has no public link address."""
        return None if base_url is None else f"{base_url}/{self.token}"

    def issued(self, base_url: str | None) -> AccessLinkIssued:
        return AccessLinkIssued(
            customer_id=self.customer_id,
            link_token=self.token,
            link_version=self.version,
            stable_url=self.url(base_url),
            replaced=self.version > 1,
            issued_at=self.issued_at,
        )


SHARE_SCHEMES = ("vless://", "vmess://", "trojan://", "ss://")
MAX_SHARE_LINKS = 64


def share_links(panel_links: tuple[str, ...]) -> tuple[str, ...]:
    """The panel's links the stable link serves: the proxy share links (a panel may list
    others, e.g. a note or an unsupported protocol), at most as many as an event carries."""
    return tuple(link for link in panel_links if link.startswith(SHARE_SCHEMES))[:MAX_SHARE_LINKS]


def new_token() -> str:
    return secrets.token_urlsafe(24)


# Two grants of one customer's subscriptions may race: the first insert wins and the other
# reads what it wrote (the row lock of the conflict makes it wait for that commit).
_ISSUE_FIRST = text(
    """
    WITH issued AS (
        INSERT INTO customer_links (customer_id, token, version, issued_at)
        VALUES (:customer, :token, 1, now())
        ON CONFLICT (customer_id) DO NOTHING
        RETURNING token, version, issued_at, true AS issued_now
    )
    SELECT * FROM issued
    UNION ALL
    SELECT token, version, issued_at, false FROM customer_links
    WHERE customer_id = :customer AND NOT EXISTS (SELECT 1 FROM issued)
    """
)
_ROTATE = text(
    """
    INSERT INTO customer_links (customer_id, token, version, issued_at)
    VALUES (:customer, :token, 1, now())
    ON CONFLICT (customer_id) DO UPDATE
    SET token = EXCLUDED.token, version = customer_links.version + 1, issued_at = now()
    RETURNING token, version, issued_at
    """
)
_CURRENT = text(
    "SELECT token, version, issued_at FROM customer_links WHERE customer_id = :customer"
)


async def current_or_first(session: AsyncSession, customer_id: UUID) -> CustomerLinkToken:
    """The customer's token, issued now if they have none."""
    row = (
        await session.execute(_ISSUE_FIRST, {"customer": customer_id, "token": new_token()})
    ).one()
    return CustomerLinkToken(customer_id, row.token, row.version, row.issued_at, row.issued_now)


async def rotate(session: AsyncSession, customer_id: UUID) -> CustomerLinkToken:
    """A new token for the customer; the one before is revoked."""
    row = (await session.execute(_ROTATE, {"customer": customer_id, "token": new_token()})).one()
    return CustomerLinkToken(customer_id, row.token, row.version, row.issued_at, True)


async def current(session: AsyncSession, customer_id: UUID) -> CustomerLinkToken | None:
    row = (await session.execute(_CURRENT, {"customer": customer_id})).one_or_none()
    if row is None:
        return None
    return CustomerLinkToken(customer_id, row.token, row.version, row.issued_at, False)
