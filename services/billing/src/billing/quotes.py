"""The SQL of quotes (``billing.domain.prices``): issued with each catalog publication,
looked up by checkouts."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing import experiments, plans
from billing.domain.prices import (
    Experiment,
    IssuedQuote,
    PricesByCurrency,
    QuoteTerms,
    offered_to,
    wanted_quotes,
)
from billing.models import PlanPrice, PriceQuoteRow


async def list_prices(session: AsyncSession) -> dict[str, PricesByCurrency]:
    """Every plan's list prices: plan id -> currency -> amount."""
    rows = await session.execute(
        select(PlanPrice.plan_id, PlanPrice.currency, PlanPrice.amount_minor)
    )
    prices: dict[str, dict[str, int]] = defaultdict(dict)
    for plan_id, currency, amount in rows.tuples():
        prices[plan_id][currency] = amount
    return dict(prices)


def _issued(row: PriceQuoteRow) -> IssuedQuote:
    return IssuedQuote(
        row.quote_id,
        QuoteTerms.of(row.plan_id, row.prices, row.experiment_id, row.variant, row.region),
    )


async def current(session: AsyncSession) -> list[IssuedQuote]:
    """Every quote on offer now."""
    rows = await session.scalars(select(PriceQuoteRow).where(PriceQuoteRow.withdrawn_at.is_(None)))
    return [_issued(row) for row in rows]


async def issue(session: AsyncSession, now: datetime) -> list[IssuedQuote]:
    """Make the quotes on offer match the list prices and the running experiments: what
    is on offer unchanged keeps its quote, what changed is withdrawn and issued anew.
    Called under the catalog's publication lock; returns the quotes now on offer."""
    running = await experiments.running(session)
    wanted = wanted_quotes(
        await list_prices(session), running, await plans.regional_prices(session)
    )
    kept: list[IssuedQuote] = []
    withdrawn: list[uuid.UUID] = []
    for quote in await current(session):
        if quote.terms in wanted:
            wanted.discard(quote.terms)
            kept.append(quote)
        else:
            withdrawn.append(quote.quote_id)
    if withdrawn:
        await session.execute(
            update(PriceQuoteRow)
            .where(PriceQuoteRow.quote_id.in_(withdrawn))
            .values(withdrawn_at=now)
        )
    issued = [IssuedQuote(uuid.uuid4(), terms) for terms in wanted]
    session.add_all(
        PriceQuoteRow(
            quote_id=quote.quote_id,
            plan_id=quote.terms.plan_id,
            experiment_id=quote.terms.experiment_id,
            variant=quote.terms.variant,
            region=quote.terms.region,
            prices=quote.prices,
            issued_at=now,
        )
        for quote in issued
    )
    await session.flush()
    return kept + issued


async def offered(
    session: AsyncSession, customer_id: uuid.UUID, plan_id: str, region: str | None = None
) -> tuple[IssuedQuote | None, Experiment | None]:
    """The quote this customer is offered for ``plan_id`` in ``region`` now, with the
    experiment it is from; (None, None) before any quote was issued."""
    rows = (
        await session.scalars(
            select(PriceQuoteRow).where(
                PriceQuoteRow.plan_id == plan_id, PriceQuoteRow.withdrawn_at.is_(None)
            )
        )
    ).all()
    on_offer = [_issued(row) for row in rows]
    experiment_ids = {row.experiment_id for row in rows if row.experiment_id is not None}
    experiment = None
    if experiment_ids:
        (experiment_id,) = experiment_ids  # a plan is in one running experiment at most
        experiment = await experiments.running_one(session, experiment_id)
    return offered_to(customer_id, on_offer, experiment, region), experiment


async def named(session: AsyncSession, quote_id: uuid.UUID) -> IssuedQuote | None:
    row = await session.get(PriceQuoteRow, quote_id)
    return _issued(row) if row is not None else None


def by_plan(quotes: Sequence[IssuedQuote]) -> dict[str, IssuedQuote]:
    """The list quote of each plan."""
    return {
        quote.terms.plan_id: quote
        for quote in quotes
        if quote.terms.experiment_id is None and quote.terms.region is None
    }


def by_region(quotes: Sequence[IssuedQuote]) -> dict[str, list[IssuedQuote]]:
    """The regional quotes of each plan, by region code."""
    found: dict[str, list[IssuedQuote]] = defaultdict(list)
    for quote in sorted(quotes, key=lambda quote: quote.terms.region or ""):
        if quote.terms.region is not None:
            found[quote.terms.plan_id].append(quote)
    return dict(found)
