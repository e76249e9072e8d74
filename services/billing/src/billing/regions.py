"""Billing's copy of provisioning's regions catalog: the regions a plan may be priced in."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import RegionsMirror
from chassis.db import mirror_newer
from chassis.messaging.consumer import MessageContext
from contracts.provisioning import RegionsPublished

log = logging.getLogger(__name__)


async def mirror_regions(event: RegionsPublished, ctx: MessageContext) -> None:
    values = {
        "catalog_version": event.catalog_version,
        "regions": [offer.region for offer in event.regions],
        "received_at": datetime.now(UTC),
    }
    await mirror_newer(ctx.session, RegionsMirror, values)
    log.info("regions mirrored", extra={"catalog_version": event.catalog_version})


async def known_regions(session: AsyncSession) -> list[str]:
    """The regions provisioning publishes now (none before its first catalog arrived)."""
    codes = await session.scalar(select(RegionsMirror.regions).where(RegionsMirror.id == 1))
    return list(codes or [])
