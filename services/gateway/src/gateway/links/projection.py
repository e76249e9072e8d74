"""Provisioning's access events become the stable link's read model.

Grants and status changes of one subscription share a partition, so the last one read is
the state; tokens are versioned, so their order across customers does not matter.
"""

from __future__ import annotations

from chassis.messaging.consumer import MessageContext
from contracts.provisioning import AccessGranted, AccessLinkIssued, AccessStatusChanged
from gateway.links import repository

REMOVED = "removed"


async def record_link(event: AccessLinkIssued, ctx: MessageContext) -> None:
    await repository.put_token(ctx.session, event.customer_id, event.link_token, event.link_version)


async def record_access(event: AccessGranted, ctx: MessageContext) -> None:
    """The subscription's current panel user: after a failover or a move, the new panel's
    links replace the old ones under the same token."""
    await repository.put_access(
        ctx.session,
        subscription_id=event.subscription_id,
        customer_id=event.customer_id,
        links=list(event.links),
        expires_at=event.expires_at,
        traffic_limit_bytes=event.traffic_limit_bytes,
    )


async def record_status(event: AccessStatusChanged, ctx: MessageContext) -> None:
    if event.status == REMOVED:
        await repository.forget_access(ctx.session, event.subscription_id)
        return
    await repository.put_status(
        ctx.session,
        event.subscription_id,
        event.status,
        event.used_traffic_bytes,
        event.traffic_limit_bytes,
    )
