"""The SQL of price experiments (``billing.domain.prices``): started and stopped by the
operator's command, read by quotes and the report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.prices import Experiment, ExperimentRefusal, Variant, VariantResult
from billing.models import Customer, Order, PriceExperimentRow, PriceVariantRow


def _experiment(row: PriceExperimentRow, variants: Sequence[PriceVariantRow]) -> Experiment:
    return Experiment(
        experiment_id=row.experiment_id,
        plan_ids=tuple(row.plan_ids),
        variants=tuple(
            Variant(variant.name, variant.weight, variant.overrides)
            for variant in sorted(variants, key=lambda v: v.position)
        ),
        started_at=row.started_at,
    )


async def _with_variants(
    session: AsyncSession, rows: Sequence[PriceExperimentRow]
) -> list[Experiment]:
    if not rows:
        return []
    variants: dict[str, list[PriceVariantRow]] = defaultdict(list)
    for variant in await session.scalars(
        select(PriceVariantRow).where(
            PriceVariantRow.experiment_id.in_([row.experiment_id for row in rows])
        )
    ):
        variants[variant.experiment_id].append(variant)
    return [_experiment(row, variants[row.experiment_id]) for row in rows]


async def running(session: AsyncSession) -> list[Experiment]:
    rows = (
        await session.scalars(
            select(PriceExperimentRow)
            .where(PriceExperimentRow.stopped_at.is_(None))
            .order_by(PriceExperimentRow.experiment_id)
        )
    ).all()
    return await _with_variants(session, rows)


async def running_one(session: AsyncSession, experiment_id: str) -> Experiment | None:
    row = await session.get(PriceExperimentRow, experiment_id)
    if row is None or row.stopped_at is not None:
        return None
    return (await _with_variants(session, [row]))[0]


async def start(session: AsyncSession, experiment: Experiment, note: str | None) -> None:
    """Record a checked experiment as running from its start; refuses a name used before."""
    if await session.get(PriceExperimentRow, experiment.experiment_id) is not None:
        raise ExperimentRefusal(f"experiment {experiment.experiment_id} exists already")
    session.add(
        PriceExperimentRow(
            experiment_id=experiment.experiment_id,
            plan_ids=list(experiment.plan_ids),
            note=note,
            started_at=experiment.started_at,
        )
    )
    await session.flush()
    session.add_all(
        PriceVariantRow(
            experiment_id=experiment.experiment_id,
            name=variant.name,
            position=position,
            weight=variant.weight,
            overrides={plan: dict(prices) for plan, prices in variant.overrides.items()},
        )
        for position, variant in enumerate(experiment.variants)
    )
    await session.flush()


async def stop(session: AsyncSession, experiment_id: str, now: datetime) -> None:
    row = await session.get(PriceExperimentRow, experiment_id, with_for_update=True)
    if row is None:
        raise ExperimentRefusal(f"no experiment {experiment_id}")
    if row.stopped_at is not None:
        raise ExperimentRefusal(f"experiment {experiment_id} was stopped already")
    row.stopped_at = now
    await session.flush()


async def listing(session: AsyncSession) -> list[tuple[PriceExperimentRow, Experiment]]:
    rows = (
        await session.scalars(
            select(PriceExperimentRow).order_by(PriceExperimentRow.started_at.desc())
        )
    ).all()
    return list(zip(rows, await _with_variants(session, rows), strict=True))


async def report(
    session: AsyncSession, experiment_id: str
) -> tuple[PriceExperimentRow, list[VariantResult]]:
    """Each variant's customers, checkouts, payers and revenue (net of refunds).

    Customers are every customer of the shop registered before the experiment stopped,
    each in the variant the hash gives: whether they opened the catalog or not, which
    compares the variants without a bias of who came to look.
    """
    row = await session.get(PriceExperimentRow, experiment_id)
    if row is None:
        raise ExperimentRefusal(f"no experiment {experiment_id}")
    (experiment,) = await _with_variants(session, [row])
    customers: Counter[str] = Counter()
    registered = select(Customer.customer_id)
    if row.stopped_at is not None:
        registered = registered.where(Customer.registered_at <= row.stopped_at)
    async for customer_id in await session.stream_scalars(
        registered.execution_options(yield_per=10_000)
    ):
        customers[experiment.variant_for(customer_id).name] += 1
    orders = (
        await session.execute(
            select(
                Order.variant,
                func.count(),
                func.count(Order.paid_at),
                func.count(func.distinct(Order.customer_id)).filter(Order.paid_at.is_not(None)),
            )
            .where(Order.experiment_id == experiment_id)
            .group_by(Order.variant)
        )
    ).tuples()
    counts = {name: (checkouts, paid, payers) for name, checkouts, paid, payers in orders}
    revenue: dict[str, dict[str, int]] = defaultdict(dict)
    for name, currency, amount in (
        await session.execute(
            select(
                Order.variant,
                Order.currency,
                func.sum(Order.amount_minor - Order.refunded_minor),
            )
            .where(Order.experiment_id == experiment_id, Order.paid_at.is_not(None))
            .group_by(Order.variant, Order.currency)
        )
    ).tuples():
        revenue[name or ""][currency] = int(amount or 0)
    results = []
    for variant in experiment.variants:
        checkouts, paid, payers = counts.get(variant.name, (0, 0, 0))
        results.append(
            VariantResult(
                name=variant.name,
                weight=variant.weight,
                customers=customers[variant.name],
                checkouts=checkouts,
                paid_orders=paid,
                paying_customers=payers,
                revenue=revenue.get(variant.name, {}),
            )
        )
    return row, results
