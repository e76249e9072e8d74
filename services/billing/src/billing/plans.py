"""The SQL of the operator's plans: defined (created or replaced) by the operator's
command, read by the catalog. Orders keep what they were sold with, so changing a plan
changes what is sold from now on, never what was bought."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.prices import PricesByCurrency, RegionalPrices
from billing.models import PlanPrice, PlanRegionPrice, PlanRow
from contracts.money import Money


class PlanRefusal(ValueError):
    """A plan definition that cannot be sold as given."""


@dataclass(frozen=True, slots=True)
class PlanDefinition:
    plan_id: str
    titles: dict[str, str]  # language tag -> name
    duration_days: int  # a month plan's nominal days
    duration_months: int
    prices: tuple[Money, ...]
    traffic_limit_bytes: int  # per period (per month with a monthly reset); 0: unlimited
    traffic_carry_over: bool
    traffic_reset: str  # none | month
    tier: int
    active: bool
    position: int | None  # None: after the others (a new plan), or where it is
    device_limit: int = 0  # devices a subscriber may connect at once; 0: none promised

    def check(self) -> None:
        if not self.titles:
            raise PlanRefusal("give it a title in at least one language")
        if not self.prices:
            raise PlanRefusal("give it at least one price")
        if len({price.currency for price in self.prices}) != len(self.prices):
            raise PlanRefusal("one price per currency")
        if any(price.amount_minor <= 0 for price in self.prices):
            raise PlanRefusal("prices must be positive")
        if self.duration_days < 1 or self.duration_months < 0:
            raise PlanRefusal("a period of at least a day")
        if self.traffic_carry_over and self.traffic_reset == "month":
            raise PlanRefusal("traffic is either carried over or reset monthly, not both")
        if not 0 <= self.tier <= 100:
            raise PlanRefusal("the tier is 0 to 100")
        if self.device_limit:
            # Sold but not enforced would be a promise broken to every subscriber.
            raise PlanRefusal(
                "a device limit cannot be enforced: Marzban panels have no per-user device "
                "or connection limit (docs/provisioning.md, what each panel type can and "
                "cannot enforce); leave --devices out"
            )


async def define(session: AsyncSession, plan: PlanDefinition) -> bool:
    """Create or replace ``plan`` with exactly its prices; True when it is new."""
    plan.check()
    existing = await session.get(PlanRow, plan.plan_id, with_for_update=True)
    position = plan.position
    if position is None:
        position = (
            existing.position
            if existing is not None
            else (await session.scalar(select(func.coalesce(func.max(PlanRow.position), 0))) or 0)
            + 1
        )
    values = {
        "titles": plan.titles,
        "duration_days": plan.duration_days,
        "duration_months": plan.duration_months,
        "traffic_limit_bytes": plan.traffic_limit_bytes,
        "traffic_carry_over": plan.traffic_carry_over,
        "traffic_reset": plan.traffic_reset,
        "tier": plan.tier,
        "active": plan.active,
        "position": position,
    }
    statement = insert(PlanRow).values(plan_id=plan.plan_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[PlanRow.plan_id], set_=values)
    )
    await session.execute(delete(PlanPrice).where(PlanPrice.plan_id == plan.plan_id))
    session.add_all(
        PlanPrice(plan_id=plan.plan_id, currency=price.currency, amount_minor=price.amount_minor)
        for price in plan.prices
    )
    await session.flush()
    return existing is None


async def listing(session: AsyncSession) -> list[tuple[PlanRow, list[Money]]]:
    rows = (await session.scalars(select(PlanRow).order_by(PlanRow.position))).all()
    prices: dict[str, list[Money]] = {}
    for price in await session.scalars(select(PlanPrice).order_by(PlanPrice.currency)):
        prices.setdefault(price.plan_id, []).append(
            Money(amount_minor=price.amount_minor, currency=price.currency)
        )
    return [(row, prices.get(row.plan_id, [])) for row in rows]


async def set_region_prices(
    session: AsyncSession, plan_id: str, region: str, prices: PricesByCurrency
) -> None:
    """The plan's prices in ``region`` are exactly ``prices`` (checked by the caller:
    ``billing.domain.prices.check_regional_price``)."""
    await clear_region_prices(session, plan_id, region)
    session.add_all(
        PlanRegionPrice(plan_id=plan_id, region=region, currency=currency, amount_minor=amount)
        for currency, amount in prices.items()
    )
    await session.flush()


async def clear_region_prices(session: AsyncSession, plan_id: str, region: str) -> bool:
    """The plan is sold in ``region`` at its base price again; False if it had none there."""
    result = await session.execute(
        delete(PlanRegionPrice).where(
            PlanRegionPrice.plan_id == plan_id, PlanRegionPrice.region == region
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def regional_prices(session: AsyncSession) -> RegionalPrices:
    """Every plan's own prices per region: plan -> region -> currency -> amount."""
    rows = await session.execute(
        select(
            PlanRegionPrice.plan_id,
            PlanRegionPrice.region,
            PlanRegionPrice.currency,
            PlanRegionPrice.amount_minor,
        )
    )
    found: dict[str, dict[str, dict[str, int]]] = {}
    for plan_id, region, currency, amount in rows.tuples():
        found.setdefault(plan_id, {}).setdefault(region, {})[currency] = amount
    return found
