"""The bot's copy of billing's catalog: plans, top-ups, traffic packs and the ways to pay."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import CatalogMirror
from bot.texts import CATALOGS
from chassis.db import mirror_newer
from chassis.messaging.consumer import MessageContext
from contracts.billing import (
    CatalogPublished,
    PaymentMethodOffer,
    PlanOffer,
    PriceExperiment,
    TopUpOffer,
    TrafficPackOffer,
    quote_for,
)
from contracts.money import Money

log = logging.getLogger(__name__)

_PLANS = TypeAdapter(list[PlanOffer])
_TOPUPS = TypeAdapter(list[TopUpOffer])
_METHODS = TypeAdapter(list[PaymentMethodOffer])
_EXPERIMENTS = TypeAdapter(list[PriceExperiment])
_PACKS = TypeAdapter(list[TrafficPackOffer])
_ROW = 1


@dataclass(frozen=True, slots=True)
class PlanChoice:
    """A plan, a way to pay and the price shown, as still on sale to the customer, with the
    quote billing issued for that price (None from a catalog before quotes)."""

    plan: PlanOffer
    method: PaymentMethodOffer
    price: Money
    quote_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Catalog:
    plans: list[PlanOffer]
    topups: list[TopUpOffer]
    methods: list[PaymentMethodOffer]
    wallet_currency: str | None
    experiments: tuple[PriceExperiment, ...] = ()
    traffic_packs: tuple[TrafficPackOffer, ...] = ()

    def plan(self, plan_id: str) -> PlanOffer | None:
        return next((p for p in self.plans if p.plan_id == plan_id), None)

    def topup(self, topup_id: str) -> TopUpOffer | None:
        return next((t for t in self.topups if t.topup_id == topup_id), None)

    def traffic_pack(self, pack_id: str) -> TrafficPackOffer | None:
        return next((p for p in self.traffic_packs if p.pack_id == pack_id), None)

    def offers(self, prices: tuple[Money, ...]) -> list[tuple[PaymentMethodOffer, Money]]:
        """Each enabled method that can take one of ``prices``, with the price it shows."""
        offered = []
        for method in self.methods:
            price = next((p for p in prices if p.currency in method.currencies), None)
            if price is not None:
                offered.append((method, price))
        return offered

    def prices_for(
        self, customer_id: uuid.UUID, plan: PlanOffer, region: str | None = None
    ) -> tuple[Money, ...]:
        """The plan's prices as this customer is quoted them (a price experiment's variant,
        the price of the region they chose, or the plan's own)."""
        quote = quote_for(self.experiments, customer_id, plan, region)
        return quote.prices if quote is not None else plan.prices

    def plan_offer(
        self,
        customer_id: uuid.UUID,
        plan_id: str,
        provider: str,
        currency: str,
        region: str | None = None,
    ) -> PlanChoice | None:
        """The plan, the way to pay and the price a button chose, if they are still on sale
        together to this customer: a button outlives the catalog it was made from. An empty
        ``currency`` (a button from an older version) is whichever price the method shows."""
        plan = self.plan(plan_id)
        if plan is None or not plan.active:
            return None
        quote = quote_for(self.experiments, customer_id, plan, region)
        prices = quote.prices if quote is not None else plan.prices
        return next(
            (
                PlanChoice(plan, method, price, quote.quote_id if quote is not None else None)
                for method, price in self.offers(prices)
                if method.provider == provider and currency in ("", price.currency)
            ),
            None,
        )


EMPTY = Catalog([], [], [], None)


async def mirror_catalog(event: CatalogPublished, ctx: MessageContext) -> None:
    values = {
        "catalog_version": event.catalog_version,
        "plans": [plan.model_dump(mode="json") for plan in event.plans],
        "topups": [topup.model_dump(mode="json") for topup in event.topups],
        "payment_methods": [method.model_dump(mode="json") for method in event.payment_methods],
        "wallet_currency": event.wallet_currency,
        "experiments": [experiment.model_dump(mode="json") for experiment in event.experiments],
        "traffic_packs": [pack.model_dump(mode="json") for pack in event.traffic_packs],
        "received_at": datetime.now(UTC),
    }
    await mirror_newer(ctx.session, CatalogMirror, values)
    log.info("catalog mirrored", extra={"catalog_version": event.catalog_version})


_parsed: dict[int, Catalog] = {}


async def current_catalog(session: AsyncSession) -> Catalog:
    """The mirrored catalog, parsed once per version: every screen reads it."""
    version = await session.scalar(
        select(CatalogMirror.catalog_version).where(CatalogMirror.id == _ROW)
    )
    if version is None:
        return EMPTY
    cached = _parsed.get(version)
    if cached is not None:
        return cached
    mirror = await session.get(CatalogMirror, _ROW)
    if mirror is None:
        return EMPTY
    catalog = Catalog(
        plans=_PLANS.validate_python(mirror.plans),
        topups=_TOPUPS.validate_python(mirror.topups),
        methods=_METHODS.validate_python(mirror.payment_methods),
        wallet_currency=mirror.wallet_currency,
        experiments=tuple(_EXPERIMENTS.validate_python(mirror.experiments)),
        traffic_packs=tuple(_PACKS.validate_python(mirror.traffic_packs)),
    )
    _parsed.clear()  # only the latest version is ever asked for again
    _parsed[mirror.catalog_version] = catalog
    return catalog


async def current_plans(session: AsyncSession) -> list[PlanOffer]:
    return (await current_catalog(session)).plans


async def plan_by_id(session: AsyncSession, plan_id: str) -> PlanOffer | None:
    return (await current_catalog(session)).plan(plan_id)


def plan_title(plan: PlanOffer, language: str) -> str:
    """The plan's name in the customer's language, or the nearest one it has."""
    return CATALOGS.pick(plan.titles, language)
