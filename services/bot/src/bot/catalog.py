"""The bot's copy of billing's plan catalog."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import CatalogMirror
from chassis.messaging.consumer import MessageContext
from contracts.billing import Plan, PlanCatalogPublished

log = logging.getLogger(__name__)

_PLANS = TypeAdapter(list[Plan])
_ROW = 1


async def mirror_catalog(event: PlanCatalogPublished, ctx: MessageContext) -> None:
    values = {
        "catalog_version": event.catalog_version,
        "plans": [plan.model_dump(mode="json") for plan in event.plans],
        "received_at": datetime.now(UTC),
    }
    statement = insert(CatalogMirror).values(id=_ROW, **values)
    # A replayed older catalog (the topic is read from the start) must not win.
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[CatalogMirror.id],
            set_=values,
            where=CatalogMirror.catalog_version < statement.excluded.catalog_version,
        )
    )
    log.info("plan catalog mirrored", extra={"catalog_version": event.catalog_version})


async def current_plans(session: AsyncSession) -> list[Plan]:
    mirror = await session.get(CatalogMirror, _ROW)
    return [] if mirror is None else _PLANS.validate_python(mirror.plans)


def plan_title(plan: Plan, language: str) -> str:
    """The plan's name in the customer's language, or in the first one it has."""
    titles = plan.title.model_dump()
    return str(titles.get(language) or next(iter(titles.values())))


async def plan_by_id(session: AsyncSession, plan_id: str) -> Plan | None:
    return next((p for p in await current_plans(session) if p.plan_id == plan_id), None)
