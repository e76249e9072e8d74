"""The plan catalog: turning the operator's plan rows into the published snapshot."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import CatalogPublication, PlanRow
from chassis.messaging.outbox import Outbox
from contracts.billing import LocalizedText, Plan, PlanCatalogPublished
from contracts.money import Money

log = logging.getLogger(__name__)

# Any constant shared by the replicas: one of them publishes a changed catalog, once.
_PUBLISH_LOCK = 0x62696C6C  # "bill"


def plans_of(rows: Sequence[PlanRow]) -> tuple[Plan, ...]:
    return tuple(
        Plan(
            plan_id=row.plan_id,
            title=LocalizedText(ru=row.title_ru, en=row.title_en),
            duration_days=row.duration_days,
            price=Money(amount_minor=row.price_minor, currency=row.currency),
            traffic_limit_bytes=row.traffic_limit_bytes,
            active=row.active,
        )
        for row in sorted(rows, key=lambda r: (r.position, r.plan_id))
    )


def digest(plans: Sequence[Plan]) -> str:
    """A fingerprint of what customers would see, to tell whether anything changed."""
    canonical = json.dumps([p.model_dump(mode="json") for p in plans], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def publish_if_changed(session: AsyncSession, outbox: Outbox) -> int | None:
    """Publish the catalog when the plans differ from the last publication.

    Returns the new version, or ``None`` when the published catalog is current.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK})
    plans = plans_of((await session.scalars(select(PlanRow))).all())
    fingerprint = digest(plans)
    last = await session.scalar(
        select(CatalogPublication).order_by(CatalogPublication.version.desc()).limit(1)
    )
    if last is not None and last.digest == fingerprint:
        return None
    version = (
        await session.scalar(select(func.coalesce(func.max(CatalogPublication.version), 0))) or 0
    ) + 1
    now = datetime.now(UTC)
    session.add(CatalogPublication(version=version, digest=fingerprint, published_at=now))
    await outbox.add(
        session, PlanCatalogPublished(catalog_version=version, plans=plans, published_at=now)
    )
    log.info("plan catalog published", extra={"catalog_version": version, "plans": len(plans)})
    return version
