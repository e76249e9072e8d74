"""Prices as quotes, and price experiments: the rules, free of I/O.

Every price a customer is shown is a *quote* billing issued: a plan's list prices, or the
prices of the variant of a running experiment the customer is in. A checkout names the
quote it was shown, and billing charges exactly that quote, or refuses it: a quote no
longer offered is stale (the price changed, the experiment ended), one never offered to
this customer for this plan is invalid. A quote's prices never change; new prices are a
new quote.

A plan may have regional prices: a customer who chooses a region where the plan has one
is quoted it (the region's own price per currency, the base price in every other). A
plan is either in a price experiment or priced per region, never both: the customer's
region and their variant would otherwise be two answers to one question.

An experiment splits customers between its variants by a hash of the experiment and the
customer (``contracts.billing.assign_variant``), in proportion to the variants' weights;
a variant's prices are the plan's list prices with the variant's overrides. A plan is in
at most one running experiment.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from contracts.billing import assign_variant

PricesByCurrency = Mapping[str, int]
"""Amounts in minor units by currency code: {"RUB": 19900}."""

RegionalPrices = Mapping[str, Mapping[str, PricesByCurrency]]
"""plan_id -> region -> the region's own prices by currency."""


class QuoteRefusal(enum.StrEnum):
    """Why a checkout's quote is not charged (a ``CheckoutFailed`` reason code)."""

    STALE = "quote_stale"  # issued, no longer offered to the customer: the price changed
    INVALID = "quote_invalid"  # never offered to this customer for this plan


class ExperimentRefusal(ValueError):
    """An experiment an operator asked for that cannot run as given."""


class RegionalPriceRefusal(ValueError):
    """A regional price an operator asked for that cannot be sold as given."""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: int
    # plan_id -> currency -> amount: what differs from the list prices.
    overrides: Mapping[str, PricesByCurrency] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    plan_ids: tuple[str, ...]
    variants: tuple[Variant, ...]
    started_at: datetime

    def variant_for(self, customer_id: uuid.UUID) -> Variant:
        weights = [variant.weight for variant in self.variants]
        return self.variants[assign_variant(self.experiment_id, customer_id, weights)]


@dataclass(frozen=True, slots=True)
class QuoteTerms:
    """What a quote offers; two quotes with the same terms are the same offer."""

    plan_id: str
    experiment_id: str | None
    variant: str | None
    prices: tuple[tuple[str, int], ...]  # sorted (currency, amount) pairs
    region: str | None = None  # a regional price's region

    @classmethod
    def of(
        cls,
        plan_id: str,
        prices: PricesByCurrency,
        experiment_id: str | None = None,
        variant: str | None = None,
        region: str | None = None,
    ) -> QuoteTerms:
        return cls(plan_id, experiment_id, variant, tuple(sorted(prices.items())), region)


@dataclass(frozen=True, slots=True)
class IssuedQuote:
    quote_id: uuid.UUID
    terms: QuoteTerms

    @property
    def prices(self) -> dict[str, int]:
        return dict(self.terms.prices)


def variant_prices(list_prices: PricesByCurrency, variant: Variant, plan_id: str) -> dict[str, int]:
    """A plan's prices in a variant: its list prices, with the variant's overrides."""
    return {**list_prices, **variant.overrides.get(plan_id, {})}


def region_prices(list_prices: PricesByCurrency, own: PricesByCurrency) -> dict[str, int]:
    """A plan's prices in a region: the region's own, the base price in every other
    currency the plan is sold in."""
    return {**list_prices, **own}


def wanted_quotes(
    list_prices: Mapping[str, PricesByCurrency],
    experiments: Iterable[Experiment],
    regional: RegionalPrices | None = None,
) -> set[QuoteTerms]:
    """Every quote that should be on offer now: each plan's list prices, its prices in
    each region that has its own, and each running experiment's variants for its plans."""
    wanted = {QuoteTerms.of(plan_id, prices) for plan_id, prices in list_prices.items() if prices}
    for plan_id, by_region in (regional or {}).items():
        base = list_prices.get(plan_id)
        if not base:
            continue
        for region, own in by_region.items():
            prices = region_prices(base, own)
            wanted.add(QuoteTerms.of(plan_id, prices, region=region))
    for experiment in experiments:
        for variant in experiment.variants:
            for plan_id in experiment.plan_ids:
                prices = variant_prices(list_prices.get(plan_id, {}), variant, plan_id)
                wanted.add(QuoteTerms.of(plan_id, prices, experiment.experiment_id, variant.name))
    return wanted


def offered_to(
    customer_id: uuid.UUID,
    current: Sequence[IssuedQuote],
    experiment: Experiment | None,
    region: str | None = None,
) -> IssuedQuote | None:
    """Of a plan's current quotes, the one this customer is offered: their variant's when
    the plan is in an experiment, else the quote of the region they chose where it has
    one, else the list quote."""
    if experiment is not None:
        name = experiment.variant_for(customer_id).name
        return next(
            (
                quote
                for quote in current
                if quote.terms.experiment_id == experiment.experiment_id
                and quote.terms.variant == name
            ),
            None,
        )
    listed = [quote for quote in current if quote.terms.experiment_id is None]
    regional = next((q for q in listed if region and q.terms.region == region), None)
    return regional or next((quote for quote in listed if quote.terms.region is None), None)


def judge(
    named: IssuedQuote | None,
    offered: IssuedQuote | None,
    plan_id: str,
    region: str | None = None,
) -> QuoteRefusal | None:
    """Whether a checkout for ``plan_id`` in ``region`` naming ``named`` may be charged
    at it: another region's price was never this checkout's."""
    if named is None or named.terms.plan_id != plan_id or named.terms.region not in (None, region):
        return QuoteRefusal.INVALID
    if offered is not None and named.quote_id == offered.quote_id:
        return None
    if (
        named.terms.experiment_id is not None
        and offered is not None
        and named.terms.experiment_id == offered.terms.experiment_id
        and named.terms.variant != offered.terms.variant
    ):
        return QuoteRefusal.INVALID  # another variant's price: not this customer's
    return QuoteRefusal.STALE


def check_regional_price(
    plan_id: str,
    region: str,
    own: PricesByCurrency,
    list_prices: Mapping[str, PricesByCurrency],
    known_regions: Iterable[str],
    busy_plans: Iterable[str],
) -> None:
    """Raise :class:`RegionalPriceRefusal` unless ``plan_id`` can be sold at ``own`` in
    ``region``: a region provisioning publishes, currencies the plan is sold in, positive
    amounts, and no running experiment on the plan."""
    known = set(known_regions)
    if region not in known:
        listed = ", ".join(sorted(known)) or "none yet"
        raise RegionalPriceRefusal(
            f"there is no region {region!r} in provisioning's catalog (known: {listed})"
        )
    base = list_prices.get(plan_id)
    if not base:
        raise RegionalPriceRefusal(f"there is no plan {plan_id!r} with prices")
    if not own:
        raise RegionalPriceRefusal("give at least one price")
    for currency, amount in own.items():
        if currency not in base:
            raise RegionalPriceRefusal(
                f"plan {plan_id} is not sold in {currency}: give it a base price first"
            )
        if amount < 1:
            raise RegionalPriceRefusal("prices must be positive")
    if plan_id in set(busy_plans):
        raise RegionalPriceRefusal(
            f"plan {plan_id} is in a running price experiment: stop it first"
        )


def check_experiment(
    experiment: Experiment,
    list_prices: Mapping[str, PricesByCurrency],
    busy_plans: Iterable[str],
    regional_plans: Iterable[str] = (),
) -> None:
    """Raise :class:`ExperimentRefusal` unless ``experiment`` can start as given."""
    if len(experiment.variants) < 2:
        raise ExperimentRefusal("an experiment needs at least two variants")
    names = [variant.name for variant in experiment.variants]
    if len(names) != len(set(names)):
        raise ExperimentRefusal("variant names must be unique")
    if not experiment.plan_ids or len(set(experiment.plan_ids)) != len(experiment.plan_ids):
        raise ExperimentRefusal("name each plan once")
    for plan_id in experiment.plan_ids:
        if not list_prices.get(plan_id):
            raise ExperimentRefusal(f"plan {plan_id} has no prices")
    taken = set(busy_plans) & set(experiment.plan_ids)
    if taken:
        raise ExperimentRefusal(f"already in a running experiment: {', '.join(sorted(taken))}")
    regional = set(regional_plans) & set(experiment.plan_ids)
    if regional:
        raise ExperimentRefusal(f"priced per region: {', '.join(sorted(regional))}")
    for variant in experiment.variants:
        if variant.weight < 1:
            raise ExperimentRefusal(f"variant {variant.name}: the weight must be at least 1")
        for plan_id, prices in variant.overrides.items():
            if plan_id not in experiment.plan_ids:
                raise ExperimentRefusal(f"variant {variant.name}: {plan_id} is not in it")
            for currency, amount in prices.items():
                if currency not in list_prices[plan_id]:
                    raise ExperimentRefusal(
                        f"variant {variant.name}: {plan_id} has no {currency} price to change"
                    )
                if amount < 1:
                    raise ExperimentRefusal(f"variant {variant.name}: prices must be positive")
    if all(not variant.overrides for variant in experiment.variants):
        raise ExperimentRefusal("every variant has the list prices: nothing to compare")


@dataclass(frozen=True, slots=True)
class VariantResult:
    """How one variant did: customers in it, checkouts started, who paid and how much."""

    name: str
    weight: int
    customers: int  # customers of the shop the hash puts in this variant
    checkouts: int  # checkouts at this variant's quotes
    paid_orders: int
    paying_customers: int
    revenue: Mapping[str, int]  # currency -> amount paid, net of refunds

    @property
    def conversion(self) -> float:
        """Paying customers per customer in the variant."""
        return self.paying_customers / self.customers if self.customers else 0.0

    @property
    def checkout_conversion(self) -> float:
        """Paid orders per checkout started."""
        return self.paid_orders / self.checkouts if self.checkouts else 0.0

    def revenue_per_customer(self, currency: str) -> float:
        return self.revenue.get(currency, 0) / self.customers if self.customers else 0.0
