"""The catalog: the operator's plans, top-ups, traffic packs and the configured payment
methods, turned into the published snapshot that the bot and the gateway mirror."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing import experiments, quotes
from billing.domain.prices import IssuedQuote
from billing.models import (
    CatalogPublication,
    PlanPrice,
    PlanRow,
    TopUpPrice,
    TopUpRow,
    TrafficPackPrice,
    TrafficPackRow,
)
from billing.providers import WALLET, Providers
from chassis.messaging.outbox import Outbox
from contracts.billing import (
    CatalogPublished,
    LocalizedText,
    PaymentMethodOffer,
    Plan,
    PlanCatalogPublished,
    PlanOffer,
    PriceExperiment,
    PriceVariant,
    Quote,
    RegionalPrice,
    TopUpOffer,
    TrafficPackOffer,
)
from contracts.money import Money

log = logging.getLogger(__name__)

# Any constant shared by the replicas: one of them publishes a changed catalog, once.
_PUBLISH_LOCK = 0x62696C6C  # "bill"


@dataclass(frozen=True, slots=True)
class PaymentMethods:
    """What the catalog says about the ways to pay, from the providers configured."""

    offers: tuple[PaymentMethodOffer, ...]
    wallet_currency: str | None

    @classmethod
    def of(
        cls,
        providers: Providers,
        *,
        wallet_currency: str | None,
        receipts: bool,
        autopay: bool = False,
    ) -> PaymentMethods:
        offers = [
            PaymentMethodOffer(
                provider=provider.name,
                currencies=tuple(sorted(provider.capabilities.currencies)),
                # Offered only where the shop allows saved methods (BILLING_AUTOPAY_ENABLED).
                recurring=autopay and provider.capabilities.recurring,
                receipt_email_required=receipts and provider.capabilities.receipts,
            )
            for provider in providers
        ]
        if wallet_currency:
            offers.append(
                PaymentMethodOffer(provider=WALLET, currencies=(wallet_currency,), recurring=False)
            )
        return cls(tuple(offers), wallet_currency or None)


def _prices(rows: Sequence[tuple[str, str, int]]) -> dict[str, tuple[Money, ...]]:
    by_item: dict[str, list[Money]] = defaultdict(list)
    for item_id, currency, amount in sorted(rows):
        by_item[item_id].append(Money(amount_minor=amount, currency=currency))
    return {item_id: tuple(prices) for item_id, prices in by_item.items()}


def sold_terms(plan: PlanRow) -> dict[str, Any]:
    """What an order of ``plan`` is sold with and keeps, whatever the plan becomes later."""
    return {
        "duration_days": plan.duration_days,
        "duration_months": plan.duration_months,
        "traffic_limit_bytes": plan.traffic_limit_bytes,
        "traffic_carry_over": plan.traffic_carry_over,
        "traffic_reset": plan.traffic_reset,
        "tier": plan.tier,
    }


def _quoted_prices(quote: IssuedQuote) -> tuple[Money, ...]:
    return tuple(
        Money(amount_minor=amount, currency=currency) for currency, amount in quote.terms.prices
    )


def _quote(quote: IssuedQuote) -> Quote:
    return Quote(plan_id=quote.terms.plan_id, quote_id=quote.quote_id, prices=_quoted_prices(quote))


def _regional(quote: IssuedQuote) -> RegionalPrice:
    assert quote.terms.region is not None
    return RegionalPrice(
        region=quote.terms.region, prices=_quoted_prices(quote), quote_id=quote.quote_id
    )


async def _experiments(
    session: AsyncSession, offered: list[IssuedQuote]
) -> tuple[PriceExperiment, ...]:
    """The running experiments with their variants' quotes (started after the last
    publication's quotes were issued: what has none yet is left out)."""
    by_variant = {
        (quote.terms.experiment_id, quote.terms.variant, quote.terms.plan_id): quote
        for quote in offered
        if quote.terms.experiment_id is not None
    }
    published = []
    for experiment in await experiments.running(session):
        variants = []
        for variant in experiment.variants:
            found = [
                by_variant.get((experiment.experiment_id, variant.name, plan_id))
                for plan_id in experiment.plan_ids
            ]
            if any(quote is None for quote in found):
                break
            variants.append(
                PriceVariant(
                    name=variant.name,
                    weight=variant.weight,
                    quotes=tuple(_quote(quote) for quote in found if quote is not None),
                )
            )
        else:
            published.append(
                PriceExperiment(
                    experiment_id=experiment.experiment_id,
                    plan_ids=experiment.plan_ids,
                    variants=tuple(variants),
                    started_at=experiment.started_at,
                )
            )
    return tuple(published)


async def current(session: AsyncSession, methods: PaymentMethods) -> CatalogPublished:
    """The catalog as the operator's rows and the quotes on offer say now (version and
    time filled in later)."""
    offered = await quotes.current(session)
    list_quotes = quotes.by_plan(offered)
    regional_quotes = quotes.by_region(offered)
    plan_rows = (await session.scalars(select(PlanRow))).all()
    plan_prices = _prices(
        (
            await session.execute(
                select(PlanPrice.plan_id, PlanPrice.currency, PlanPrice.amount_minor)
            )
        )
        .tuples()
        .all()
    )
    topup_rows = (await session.scalars(select(TopUpRow).where(TopUpRow.active))).all()
    topup_prices = _prices(
        (
            await session.execute(
                select(TopUpPrice.topup_id, TopUpPrice.currency, TopUpPrice.amount_minor)
            )
        )
        .tuples()
        .all()
    )
    plans = tuple(
        PlanOffer(
            plan_id=row.plan_id,
            titles=row.titles,
            prices=plan_prices[row.plan_id],
            active=row.active,
            quote_id=list_quotes[row.plan_id].quote_id if row.plan_id in list_quotes else None,
            regional_prices=tuple(
                _regional(quote) for quote in regional_quotes.get(row.plan_id, ())
            ),
            **sold_terms(row),
        )
        for row in sorted(plan_rows, key=lambda r: (r.position, r.plan_id))
        if row.plan_id in plan_prices
    )
    topups = tuple(
        TopUpOffer(
            topup_id=row.topup_id,
            credit=Money(amount_minor=row.credit_minor, currency=row.credit_currency),
            prices=topup_prices[row.topup_id],
        )
        for row in sorted(topup_rows, key=lambda r: (r.position, r.topup_id))
        if row.topup_id in topup_prices and methods.wallet_currency == row.credit_currency
    )
    pack_rows = (await session.scalars(select(TrafficPackRow).where(TrafficPackRow.active))).all()
    pack_prices = _prices(
        (
            await session.execute(
                select(
                    TrafficPackPrice.pack_id,
                    TrafficPackPrice.currency,
                    TrafficPackPrice.amount_minor,
                )
            )
        )
        .tuples()
        .all()
    )
    packs = tuple(
        TrafficPackOffer(
            pack_id=row.pack_id, traffic_bytes=row.traffic_bytes, prices=pack_prices[row.pack_id]
        )
        for row in sorted(pack_rows, key=lambda r: (r.position, r.pack_id))
        if row.pack_id in pack_prices
    )
    return CatalogPublished(
        catalog_version=1,
        plans=plans,
        topups=topups,
        payment_methods=methods.offers,
        wallet_currency=methods.wallet_currency,
        experiments=await _experiments(session, offered),
        traffic_packs=packs,
        published_at=datetime.now(UTC),
    )


def digest(catalog: CatalogPublished) -> str:
    """A fingerprint of what customers would see, to tell whether anything changed."""
    content = catalog.model_dump(mode="json", exclude={"catalog_version", "published_at"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def as_v1(catalog: CatalogPublished) -> PlanCatalogPublished:
    """The same catalog for readers of v1: a Russian and an English name, one price."""
    return PlanCatalogPublished(
        catalog_version=catalog.catalog_version,
        plans=tuple(
            Plan(
                plan_id=plan.plan_id,
                title=LocalizedText(
                    ru=plan.titles.get("ru") or next(iter(plan.titles.values())),
                    en=plan.titles.get("en") or next(iter(plan.titles.values())),
                ),
                duration_days=plan.duration_days,
                price=plan.price_in("RUB") or plan.prices[0],
                traffic_limit_bytes=plan.traffic_limit_bytes,
                active=plan.active,
            )
            for plan in catalog.plans
        ),
        published_at=catalog.published_at,
    )


async def publish_if_changed(
    session: AsyncSession, outbox: Outbox, methods: PaymentMethods
) -> int | None:
    """Publish the catalog when it differs from the last publication.

    Both versions of the event are published, v2 and, for readers not yet upgraded, v1.
    Returns the new version, or ``None`` when the published catalog is current.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK})
    await quotes.issue(session, datetime.now(UTC))
    catalog = await current(session, methods)
    fingerprint = digest(catalog)
    last = await session.scalar(
        select(CatalogPublication).order_by(CatalogPublication.version.desc()).limit(1)
    )
    if last is not None and last.digest == fingerprint:
        return None
    version = (
        await session.scalar(select(func.coalesce(func.max(CatalogPublication.version), 0))) or 0
    ) + 1
    catalog = catalog.model_copy(update={"catalog_version": version})
    session.add(
        CatalogPublication(version=version, digest=fingerprint, published_at=catalog.published_at)
    )
    await outbox.add_many(session, [catalog, as_v1(catalog)])
    log.info(
        "catalog published",
        extra={
            "catalog_version": version,
            "plans": len(catalog.plans),
            "topups": len(catalog.topups),
        },
    )
    return version
