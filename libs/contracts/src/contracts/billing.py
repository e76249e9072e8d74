"""Events produced by billing: the plan catalog, checkouts, payments and subscriptions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Final, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from contracts.envelope import Event
from contracts.fields import (
    ByteCount,
    HttpUrl,
    LanguageTag,
    PlanId,
    PromoCodeText,
    ProviderName,
    ProviderPaymentId,
    RegionId,
    Slug,
    UtcDatetime,
    VpnProtocol,
)
from contracts.money import CurrencyCode, Money
from contracts.topics import (
    BILLING_AUTOPAY,
    BILLING_CATALOG,
    BILLING_CHECKOUTS,
    BILLING_PAYMENTS,
    BILLING_PROMOS,
    BILLING_SEGMENTS,
    BILLING_SUBSCRIPTIONS,
    BILLING_WALLETS,
)

CATALOG_KEY: Final = "catalog"
"""Key of every v1 catalog record: compaction then keeps exactly the latest catalog."""
CATALOG_V2_KEY: Final = "catalog.v2"
"""Key of every v2 catalog record, so that the latest of each version survives compaction."""

PROMO_REFUSALS: Final[tuple[str, ...]] = (
    "promo_unknown",
    "promo_not_started",
    "promo_expired",
    "promo_exhausted",
    "promo_used",
    "promo_first_purchase_only",
    "promo_not_for_plan",
    "promo_currency",
    "promo_needs_subscription",
)
"""Why billing refuses a promo code: no such code; not valid yet; no longer valid; every use
taken; this customer used it already; only for a first purchase and the customer has paid;
not for this plan; a fixed discount in another currency; free days for a customer with no
subscription and a code that names no plan to start one on."""

CHECKOUT_FAILURE_REASONS: Final[tuple[str, ...]] = (
    "plan_not_found",
    "plan_inactive",
    "customer_unknown",
    "provider_unsupported",
    "provider_unavailable",
    "provider_rejected",
    "checkout_conflict",
    "currency_not_offered",
    "amount_not_accepted",
    "insufficient_funds",
    "email_required",
    "autopay_unavailable",
    "price_changed",
    "quote_stale",
    "quote_invalid",
    "traffic_needs_subscription",
    "traffic_not_for_plan",
    *PROMO_REFUSALS,
)
"""Reason codes billing uses today in ``CheckoutFailed``; the set may grow within v1."""

Title = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class LocalizedText(BaseModel):
    """A user-facing text in Russian and English (v1; v2 events use ``LocalizedTexts``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ru: Title = Field(description="Russian, the first language of the product.")
    en: Title = Field(description="English.")


class Plan(BaseModel):
    """One plan of the catalog as customers see it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan_id: PlanId
    title: LocalizedText = Field(description="Plan name shown to customers.")
    duration_days: int = Field(strict=True, ge=1, description="Length of one paid period in days.")
    price: Money = Field(description="Price of one period.")
    traffic_limit_bytes: ByteCount = Field(
        description="Traffic per period in bytes; 0 means unlimited (Marzban's `data_limit`)."
    )
    active: bool = Field(
        description="Whether it can be bought now; inactive plans stay for existing subscriptions."
    )


class PlanCatalogPublished(Event):
    """The complete plan catalog, published whenever an operator changes any plan.

    Superseded by ``billing.catalog.published.v2`` (names in any language, a price per
    currency, payment methods); billing publishes both until every consumer reads v2.
    Emitted by billing to the compacted catalog topic, always under the same key.
    """

    event_type = "billing.catalog.published.v1"
    topic = BILLING_CATALOG

    catalog_version: int = Field(
        strict=True,
        ge=1,
        description="Increases with every publication; mirrors ignore versions they have passed.",
    )
    plans: tuple[Plan, ...] = Field(description="Every plan, active or not, in display order.")
    published_at: UtcDatetime = Field(description="When this version was published.")

    @model_validator(mode="after")
    def _plan_ids_unique(self) -> Self:
        ids = [plan.plan_id for plan in self.plans]
        if len(ids) != len(set(ids)):
            raise ValueError("plan ids must be unique within a catalog")
        return self

    def key(self) -> str:
        return CATALOG_KEY


LocalizedTexts = Annotated[
    dict[LanguageTag, Title],
    Field(
        min_length=1,
        description=(
            'A name by language tag (`{"ru": "1 месяц", "en": "1 month"}`); a reader '
            "shows the customer's language, else the nearest it has, else any."
        ),
    ),
]


def _unique_currencies(prices: tuple[Money, ...]) -> tuple[Money, ...]:
    currencies = [price.currency for price in prices]
    if len(currencies) != len(set(currencies)):
        raise ValueError("at most one price per currency")
    return prices


Prices = Annotated[
    tuple[Money, ...],
    Field(
        min_length=1,
        description=(
            "The price in each currency it is sold in, set by the operator: no exchange rate "
            "is ever applied. A payment method can sell it if it takes one of these currencies."
        ),
    ),
    AfterValidator(_unique_currencies),
]


TrafficReset = Annotated[
    Literal["none", "month"],
    Field(
        description=(
            "When the traffic allowance starts again within a period: `none` (one allowance "
            "for the whole period) or `month` (every month, the panel's reset strategy)."
        )
    ),
]
TrafficCarryOver = Annotated[
    bool,
    Field(
        description=(
            "Whether a renewal adds what is left of the period's traffic to the new "
            "allowance; never with a monthly reset."
        )
    ),
]


class RegionalPrice(BaseModel):
    """What a plan costs a customer who chooses one region (a region from provisioning's
    catalog, `RegionsPublished`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    region: RegionId
    prices: Prices = Field(
        description=(
            "The plan's prices in this region, in every currency the plan is sold in: the "
            "region's own where the operator set one, the plan's base price otherwise."
        )
    )
    quote_id: UUID | None = Field(
        default=None,
        description="The quote issued for these prices: a checkout in the region names it.",
    )


class PlanOffer(BaseModel):
    """One plan of the catalog as customers see it (v2)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan_id: PlanId
    titles: LocalizedTexts
    duration_days: int = Field(
        strict=True,
        ge=1,
        description="Length of one paid period in days (for a month plan, its nominal days).",
    )
    duration_months: int = Field(
        default=0,
        strict=True,
        ge=0,
        description=(
            "When above 0, a period is this many calendar months, ending on the day of the "
            "month it started (or the month's last day); else it is `duration_days`."
        ),
    )
    prices: Prices
    traffic_limit_bytes: ByteCount = Field(
        description="Traffic per period (per month with a monthly reset) in bytes; 0: unlimited."
    )
    traffic_carry_over: TrafficCarryOver = True
    traffic_reset: TrafficReset = "none"
    active: bool = Field(
        description="Whether it can be bought now; inactive plans stay for existing subscriptions."
    )
    tier: int = Field(
        default=0,
        strict=True,
        ge=0,
        le=100,
        description=(
            "The plan's level of service. Buying a plan of a higher tier than the current "
            "one is an upgrade (at once, the unused part of the old plan credited as time), "
            "of a lower tier a downgrade (from the end of the current period), of the same "
            "tier a renewal."
        ),
    )
    quote_id: UUID | None = Field(
        default=None,
        description=(
            "The quote billing issued for `prices`: a checkout names it (`quote_id`), and "
            "billing refuses one it no longer offers. A customer in a price experiment on this "
            "plan is offered their variant's quote instead (`CatalogPublished.quote_for`). "
            "Absent from catalogs published before quotes."
        ),
    )

    regional_prices: tuple[RegionalPrice, ...] = Field(
        default=(),
        description=(
            "Prices for customers who choose one of these regions; a region not listed (or "
            "none chosen) pays `prices`. Never on a plan in a price experiment."
        ),
    )

    def price_in(self, currency: str) -> Money | None:
        return next((price for price in self.prices if price.currency == currency), None)

    def in_region(self, region: str | None) -> RegionalPrice | None:
        return next((price for price in self.regional_prices if price.region == region), None)


ExperimentId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$"),
    Field(description="A price experiment's name chosen by the operator, e.g. `spring-m1`."),
]
VariantName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,15}$"),
    Field(description="A variant within its experiment, e.g. `control` or `low`."),
]


def assign_variant(experiment_id: str, customer_id: UUID, weights: Sequence[int]) -> int:
    """Which of an experiment's variants (by position) a customer is in.

    A hash of the experiment and the customer: the same customer always lands in the same
    variant of one experiment, independently across experiments, in proportion to the
    weights. Billing and every reader of the catalog compute it alike.
    """
    digest = hashlib.sha256(f"{experiment_id}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(weights)
    for position, weight in enumerate(weights):
        if point < weight:
            return position
        point -= weight
    raise AssertionError("unreachable: the point is below the sum of the weights")


class Quote(BaseModel):
    """Prices billing issued for one plan: what a customer is shown and a checkout names."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan_id: PlanId
    quote_id: UUID = Field(description="Named by the checkout that pays this price.")
    prices: Prices


class PriceVariant(BaseModel):
    """One arm of a price experiment: its share of customers and its prices."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: VariantName
    weight: int = Field(strict=True, ge=1, le=1000, description="Relative share of customers.")
    quotes: tuple[Quote, ...] = Field(
        min_length=1, description="A quote for every plan of the experiment."
    )

    def quote(self, plan_id: str) -> Quote | None:
        return next((quote for quote in self.quotes if quote.plan_id == plan_id), None)


class PriceExperiment(BaseModel):
    """A running price experiment: customers split between variants by a hash, each offered
    their variant's prices for the experiment's plans (`assign_variant`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    experiment_id: ExperimentId
    plan_ids: tuple[PlanId, ...] = Field(min_length=1)
    variants: tuple[PriceVariant, ...] = Field(min_length=2)
    started_at: UtcDatetime

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if len({variant.name for variant in self.variants}) != len(self.variants):
            raise ValueError("variant names must be unique within an experiment")
        for variant in self.variants:
            if sorted(quote.plan_id for quote in variant.quotes) != sorted(self.plan_ids):
                raise ValueError(f"variant {variant.name} must quote exactly the plans")
        return self

    def variant_for(self, customer_id: UUID) -> PriceVariant:
        weights = [variant.weight for variant in self.variants]
        return self.variants[assign_variant(self.experiment_id, customer_id, weights)]


class TopUpOffer(BaseModel):
    """A wallet top-up customers can buy: ``credit`` on the balance for one of ``prices``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topup_id: PlanId
    credit: Money = Field(description="What the wallet receives, in the wallet's currency.")
    prices: Prices

    def price_in(self, currency: str) -> Money | None:
        return next((price for price in self.prices if price.currency == currency), None)


class TrafficPackOffer(BaseModel):
    """Extra traffic a subscriber can buy for the current period of their subscription (a
    plan with a traffic limit and no monthly reset): ``traffic_bytes`` for one of ``prices``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pack_id: PlanId
    traffic_bytes: int = Field(strict=True, gt=0, description="Traffic added, in bytes.")
    prices: Prices

    def price_in(self, currency: str) -> Money | None:
        return next((price for price in self.prices if price.currency == currency), None)


class PaymentMethodOffer(BaseModel):
    """A way to pay that billing has configured, and what it can do."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    provider: ProviderName
    currencies: tuple[CurrencyCode, ...] = Field(
        min_length=1, description="Currencies it takes; it sells what has a price in one."
    )
    recurring: bool = Field(
        description="It can keep the method for automatic renewals (with the customer's consent)."
    )
    receipt_email_required: bool = Field(
        default=False,
        description="Payments carry a 54-FZ receipt, which needs the customer's e-mail first.",
    )


class CatalogPublished(Event):
    """The complete catalog: plans, wallet top-ups and the ways to pay for them.

    Emitted by billing to the compacted catalog topic whenever an operator changes
    anything in it, always under the key ``catalog.v2``. Consumed by the bot (menus) and
    the gateway (partner API), which mirror the latest catalog.
    """

    event_type = "billing.catalog.published.v2"
    topic = BILLING_CATALOG

    catalog_version: int = Field(
        strict=True,
        ge=1,
        description="Increases with every publication; mirrors ignore versions they have passed.",
    )
    plans: tuple[PlanOffer, ...] = Field(description="Every plan, active or not, in display order.")
    topups: tuple[TopUpOffer, ...] = Field(
        default=(), description="Wallet top-ups on sale, in display order."
    )
    payment_methods: tuple[PaymentMethodOffer, ...] = Field(
        description="Enabled payment methods, in the order customers are offered them."
    )
    wallet_currency: CurrencyCode | None = Field(
        default=None,
        description="Currency of customer balances; absent when the wallet is switched off.",
    )
    experiments: tuple[PriceExperiment, ...] = Field(
        default=(),
        description="Price experiments running now; no two share a plan.",
    )
    traffic_packs: tuple[TrafficPackOffer, ...] = Field(
        default=(), description="Extra traffic on sale to subscribers, in display order."
    )
    published_at: UtcDatetime = Field(description="When this version was published.")

    @model_validator(mode="after")
    def _ids_unique(self) -> Self:
        for ids in (
            [plan.plan_id for plan in self.plans],
            [topup.topup_id for topup in self.topups],
            [method.provider for method in self.payment_methods],
            [plan_id for experiment in self.experiments for plan_id in experiment.plan_ids],
        ):
            if len(ids) != len(set(ids)):
                raise ValueError(
                    "plan, top-up and provider ids must be unique within a catalog, "
                    "and a plan in at most one experiment"
                )
        return self

    def quote_for(
        self, customer_id: UUID, plan: PlanOffer, region: str | None = None
    ) -> Quote | None:
        return quote_for(self.experiments, customer_id, plan, region)

    def key(self) -> str:
        return CATALOG_V2_KEY


def quote_for(
    experiments: Sequence[PriceExperiment],
    customer_id: UUID,
    plan: PlanOffer,
    region: str | None = None,
) -> Quote | None:
    """What ``plan`` is offered to this customer at: their variant's quote when one of the
    catalog's ``experiments`` runs on it, else the price of the ``region`` they chose
    where the plan has one, else the plan's own; None in a catalog without quotes."""
    for experiment in experiments:
        if plan.plan_id in experiment.plan_ids:
            return experiment.variant_for(customer_id).quote(plan.plan_id)
    regional = plan.in_region(region)
    if regional is not None and regional.quote_id is not None:
        return Quote(plan_id=plan.plan_id, quote_id=regional.quote_id, prices=regional.prices)
    if plan.quote_id is None:
        return None
    return Quote(plan_id=plan.plan_id, quote_id=plan.quote_id, prices=plan.prices)


class TelegramInvoice(BaseModel):
    """What the bot puts into a Telegram invoice (``sendInvoice``) for a Stars payment."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    title: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    payload: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Telegram hands it back in the pre-checkout query and the payment."
    )
    amount: Money = Field(description="The price, in XTR.")


class CheckoutReady(Event):
    """Billing created an order and a payment with the provider; the customer can pay now.

    Answer to ``RequestCheckout``. Consumed by the bot (shows the payment link) and the
    gateway (partner API).
    """

    event_type = "billing.checkout.ready.v1"
    topic = BILLING_CHECKOUTS

    checkout_id: UUID = Field(description="The id from the checkout request.")
    customer_id: UUID = Field(description="The paying customer.")
    order_id: UUID = Field(description="The order billing created for this checkout.")
    provider: ProviderName
    provider_payment_id: ProviderPaymentId
    confirmation_url: HttpUrl = Field(description="Payment page to send the customer to.")
    amount: Money = Field(description="Amount to be paid.")
    list_price: Money | None = Field(
        default=None,
        description="The price before the promo code's discount; absent without a code.",
    )
    promo_code: PromoCodeText | None = Field(
        default=None, description="The code whose use this order took."
    )
    expires_at: UtcDatetime | None = Field(
        default=None, description="When the payment link stops working, if the provider says."
    )
    telegram_invoice: TelegramInvoice | None = Field(
        default=None,
        description=(
            "For Telegram Stars: the invoice the bot sends into the chat; "
            "``confirmation_url`` is then the same invoice as a link."
        ),
    )

    def key(self) -> str:
        return str(self.checkout_id)


class CheckoutPaid(Event):
    """A checkout was paid at once from the customer's wallet; no payment link is needed.

    Answer to ``RequestCheckout`` with the provider ``wallet``. ``PaymentSucceeded`` for the
    order follows. Consumed by the bot (shows the new balance) and the gateway.
    """

    event_type = "billing.checkout.paid.v1"
    topic = BILLING_CHECKOUTS

    checkout_id: UUID = Field(description="The id from the checkout request.")
    customer_id: UUID = Field(description="The paying customer.")
    order_id: UUID = Field(description="The order billing created and paid.")
    amount: Money = Field(description="What the wallet paid.")
    balance: Money = Field(description="The wallet's balance after paying.")
    promo_code: PromoCodeText | None = Field(
        default=None, description="The code whose use this order took."
    )

    def key(self) -> str:
        return str(self.checkout_id)


class CheckoutFailed(Event):
    """Billing could not produce a payment link for a checkout request.

    Answer to ``RequestCheckout``. Consumed by the bot and the gateway, which tell the
    customer or partner.
    """

    event_type = "billing.checkout.failed.v1"
    topic = BILLING_CHECKOUTS

    checkout_id: UUID = Field(description="The id from the checkout request.")
    customer_id: UUID = Field(description="The customer who asked.")
    reason_code: Slug = Field(
        description=(
            "Machine-readable cause: "
            + ", ".join(f"`{reason}`" for reason in CHECKOUT_FAILURE_REASONS)
            + ". New codes may appear; treat unknown ones as a generic failure."
        )
    )
    reason: str = Field(
        min_length=1,
        max_length=1024,
        description="Human-readable explanation for logs and operators, not for customers.",
    )

    def key(self) -> str:
        return str(self.checkout_id)


class PaymentSucceeded(Event):
    """A payment was verified with the provider as succeeded; the order is paid.

    Emitted by billing once per order, only after verification with the provider, in the
    transaction that also writes what the order bought (a subscription event, or a wallet
    change for a top-up): the bot learns from those that a checkout is paid. For the
    gateway's read models and operators' tools.
    """

    event_type = "billing.payment.succeeded.v1"
    topic = BILLING_PAYMENTS

    order_id: UUID = Field(description="The paid order.")
    checkout_id: UUID = Field(description="The checkout the order was created for.")
    customer_id: UUID = Field(description="The paying customer.")
    plan_id: PlanId = Field(
        description=(
            "The plan bought; for an order of kind `topup`, the top-up's id; of kind "
            "`traffic`, the traffic pack's."
        )
    )
    kind: Literal["plan", "topup", "traffic"] = Field(
        default="plan",
        description="What the order bought: a plan period, wallet credit, or extra traffic.",
    )
    provider: ProviderName
    provider_payment_id: ProviderPaymentId
    amount: Money = Field(description="Amount the provider confirmed as paid.")
    paid_at: UtcDatetime = Field(description="When the provider captured the payment.")

    def key(self) -> str:
        return str(self.order_id)


class PaymentCanceled(Event):
    """A payment was verified with the provider as canceled; the order will not be paid.

    Emitted by billing once per order. Consumed by the bot (tells the customer why and
    offers to retry) and the gateway (read models).
    """

    event_type = "billing.payment.canceled.v1"
    topic = BILLING_PAYMENTS

    order_id: UUID = Field(description="The order that stays unpaid.")
    checkout_id: UUID = Field(description="The checkout the order was created for.")
    customer_id: UUID = Field(description="The customer who tried to pay.")
    plan_id: PlanId = Field(
        description=(
            "The plan bought; for an order of kind `topup`, the top-up's id; of kind "
            "`traffic`, the traffic pack's."
        )
    )
    kind: Literal["plan", "topup", "traffic"] = Field(
        default="plan",
        description="What the order bought: a plan period, wallet credit, or extra traffic.",
    )
    provider: ProviderName
    provider_payment_id: ProviderPaymentId
    amount: Money = Field(description="Amount of the canceled payment.")
    canceled_at: UtcDatetime = Field(description="When the provider canceled the payment.")
    cancellation_party: Slug = Field(
        description=(
            "Who canceled, in the provider's terms; YooKassa: `merchant`, `yoo_money`, "
            "`payment_network`."
        )
    )
    cancellation_reason: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description=(
            "Why, in the provider's terms; YooKassa e.g. `expired_on_confirmation`, "
            "`insufficient_funds`, `canceled_by_merchant`, `permission_revoked`."
        ),
    )

    autopay: bool = Field(
        default=False,
        description=(
            "The charge was an automatic renewal of a saved method: billing tells the customer "
            "itself (once per period), so readers that notify skip it."
        ),
    )

    def key(self) -> str:
        return str(self.order_id)


class _SubscriptionPeriod(Event):
    subscription_id: UUID = Field(description="The subscription.")
    customer_id: UUID = Field(description="The subscriber.")
    plan_id: PlanId
    order_id: UUID = Field(description="The paid order behind this period.")
    period_start: UtcDatetime = Field(
        description="Start of the period this order paid for (for an extension: the previous end, "
        "or the payment time if the subscription had lapsed)."
    )
    period_end: UtcDatetime = Field(
        description="End of the paid access; the panel user's `expire` is set to it."
    )
    traffic_limit_bytes: ByteCount = Field(
        description="Traffic limit per period in bytes; 0 means unlimited."
    )
    revision: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        description=(
            "The subscription's revision after this change, one higher with every change "
            "(activation, extension, shortening): of two events about one subscription the "
            "higher revision is the newer state. Absent from events written before refunds."
        ),
    )
    access_until: UtcDatetime | None = Field(
        default=None,
        description=(
            "Until when the customer is served: `period_end` plus the grace period, after "
            "which the subscription is suspended unless paid. The panel user's `expire` is "
            "set to it. Absent from events written before grace periods (then `period_end`)."
        ),
    )
    traffic_carry_over: TrafficCarryOver = True
    traffic_reset: TrafficReset = "none"

    @model_validator(mode="after")
    def _period_not_empty(self) -> Self:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        if self.access_until is not None and self.access_until < self.period_end:
            raise ValueError("access_until is never before period_end")
        return self

    def key(self) -> str:
        return str(self.subscription_id)


class SubscriptionActivated(_SubscriptionPeriod):
    """A paid order started a new subscription.

    Emitted by billing after ``PaymentSucceeded``. Consumed by provisioning (creates VPN
    access until ``period_end``) and the gateway (read models).
    """

    event_type = "billing.subscription.activated.v1"
    topic = BILLING_SUBSCRIPTIONS

    region: RegionId | None = Field(
        default=None,
        description=(
            "Where the customer chose to be served; absent: provisioning's default region."
        ),
    )
    protocol: VpnProtocol | None = Field(
        default=None,
        description=(
            "The protocol the customer chose at checkout; absent: every protocol the panel serves."
        ),
    )


class SubscriptionExtended(_SubscriptionPeriod):
    """A paid order added a period to an existing subscription.

    Emitted by billing after ``PaymentSucceeded``. Consumed by provisioning (moves the
    panel user's expiry to ``period_end``) and the gateway (read models).
    """

    event_type = "billing.subscription.extended.v1"
    topic = BILLING_SUBSCRIPTIONS

    previous_period_end: UtcDatetime = Field(description="End of the access before this extension.")
    next_plan_id: PlanId | None = Field(
        default=None,
        description=(
            "Set for a downgrade: the time was added at the current plan's terms (`plan_id`, "
            "`traffic_*` are the current plan's), no new allowance starts now, and the "
            "ordered plan applies from `previous_period_end` (`SubscriptionPlanChanged` "
            "then). Absent: a renewal, whose allowance starts now."
        ),
    )

    @model_validator(mode="after")
    def _extends(self) -> Self:
        if self.period_start < self.previous_period_end:
            raise ValueError("an extension starts no earlier than the previous period end")
        return self


class SubscriptionPlanChanged(_SubscriptionPeriod):
    """The subscription moved to another plan, and a new allowance of its traffic starts.

    An ``upgrade`` is paid now and starts now: its period runs from `period_start` (the
    payment) for the plan's length plus `credit_hours`, the unused part of what was paid
    for the old plan, converted at the new plan's price. A ``downgrade`` was paid earlier
    (``SubscriptionExtended`` with `next_plan_id`) and applies from the end of the period
    at the old terms, `period_start`. Emitted by billing. Consumed by provisioning (the new
    limit and rules on the panel user, its usage count started again) and the bot.
    """

    event_type = "billing.subscription.plan_changed.v1"
    topic = BILLING_SUBSCRIPTIONS

    previous_plan_id: PlanId = Field(description="The plan before the change.")
    change: Literal["upgrade", "downgrade"] = Field(
        description="`upgrade`: to a higher tier, at once; `downgrade`: to a lower, at the end."
    )
    credit_hours: int = Field(
        default=0,
        strict=True,
        ge=0,
        description="An upgrade's credit for the unused part of the old plan, in hours.",
    )
    changed_at: UtcDatetime = Field(description="When the plan changed.")


class SubscriptionTrafficAdded(Event):
    """A paid traffic pack added traffic to the subscription's current allowance.

    `extra_traffic_bytes` is all the extra of the current allowance (this pack and any
    before it since the allowance started); the next allowance (a renewal, a plan change)
    starts without it, what was left of it carried as the plan's rule says. Emitted by
    billing. Consumed by provisioning (the panel user's limit is the allowance, what was
    carried into it, and this extra) and the bot.
    """

    event_type = "billing.subscription.traffic_added.v1"
    topic = BILLING_SUBSCRIPTIONS

    subscription_id: UUID = Field(description="The subscription.")
    customer_id: UUID = Field(description="The subscriber.")
    order_id: UUID = Field(description="The paid traffic pack's order.")
    added_bytes: int = Field(strict=True, gt=0, description="What this pack added.")
    extra_traffic_bytes: int = Field(
        strict=True, gt=0, description="All the extra of the current allowance, this included."
    )
    traffic_limit_bytes: ByteCount = Field(description="The plan's allowance per period.")
    period_end: UtcDatetime = Field(description="The end of the paid period.")
    revision: int = Field(
        strict=True, ge=1, description="The subscription's revision after this change."
    )
    added_at: UtcDatetime = Field(description="When billing added it.")

    def key(self) -> str:
        return str(self.subscription_id)


class SubscriptionShortened(Event):
    """A refund took back part of a subscription's paid time: its end moved earlier.

    The refunded share of an order's price removes the same share of the order's period
    from the subscription's end, but never before the moment of the refund: a refund that
    would end access in the past ends it now, and then ``ended`` is true (there is no
    separate "ended" event). Emitted by billing with ``PaymentRefunded``. Consumed by
    provisioning (moves the panel user's expiry earlier, or disables the user when access
    ended) and the gateway (read models). Of two events about one subscription, the one
    with the higher ``revision`` is the newer state.
    """

    event_type = "billing.subscription.shortened.v1"
    topic = BILLING_SUBSCRIPTIONS

    subscription_id: UUID = Field(description="The subscription.")
    customer_id: UUID = Field(description="The subscriber.")
    plan_id: PlanId = Field(description="The subscription's plan.")
    order_id: UUID = Field(description="The refunded order whose period was taken back.")
    refund_id: UUID = Field(description="The refund that shortened it.")
    period_end: UtcDatetime = Field(
        description="The new end of the paid access; the panel user's `expire` is set to it."
    )
    previous_period_end: UtcDatetime = Field(description="The end before this refund.")
    traffic_limit_bytes: ByteCount = Field(
        description="Traffic limit per period in bytes; 0 means unlimited."
    )
    revision: int = Field(
        strict=True, ge=1, description="The subscription's revision after this change."
    )
    ended: bool = Field(
        description="True when access ends at once: `period_end` is `shortened_at`."
    )
    shortened_at: UtcDatetime = Field(description="When billing applied the refund.")
    access_until: UtcDatetime | None = Field(
        default=None,
        description=(
            "Until when the customer is served: the new `period_end` plus the grace period, "
            "or `period_end` itself when the refund ended access. The panel user's `expire` "
            "is set to it. Absent from events written before grace periods (then `period_end`)."
        ),
    )

    @model_validator(mode="after")
    def _shortens(self) -> Self:
        if self.period_end >= self.previous_period_end:
            raise ValueError("a shortening moves period_end earlier than previous_period_end")
        if self.ended != (self.period_end <= self.shortened_at):
            raise ValueError("ended is true exactly when period_end is not after shortened_at")
        if self.access_until is not None and self.access_until < self.period_end:
            raise ValueError("access_until is never before period_end")
        return self

    def key(self) -> str:
        return str(self.subscription_id)


class _SubscriptionStageChange(Event):
    subscription_id: UUID = Field(description="The subscription.")
    customer_id: UUID = Field(description="The subscriber.")
    plan_id: PlanId = Field(description="The subscription's plan.")
    period_end: UtcDatetime = Field(description="End of the last paid period.")
    revision: int = Field(
        strict=True, ge=1, description="The subscription's revision after this change."
    )

    def key(self) -> str:
        return str(self.subscription_id)


class SubscriptionSuspended(_SubscriptionStageChange):
    """The grace after a subscription's end ran out unpaid: the customer is cut off.

    Emitted by billing when the subscription's `access_until` passes without a payment
    (or at once when a refund ended access). Consumed by provisioning (disables the panel
    user, keeping it and its subscription link, so that a payment brings both back) and
    the bot ("My subscription"). The panel user is removed after `remove_at` unless the
    customer pays first.
    """

    event_type = "billing.subscription.suspended.v1"
    topic = BILLING_SUBSCRIPTIONS

    suspended_at: UtcDatetime = Field(description="When billing suspended it.")
    remove_at: UtcDatetime = Field(
        description="When the panel user will be removed if nothing is paid by then."
    )


class SubscriptionRemoved(_SubscriptionStageChange):
    """A suspended subscription's retention is over: its panel user is deleted.

    Emitted by billing `remove_at` after the suspension. Consumed by provisioning (deletes
    the panel user; the subscription link stops working) and the bot. Billing keeps the
    subscription and its history: a later payment extends the same subscription, and
    provisioning creates the panel user again under the same name, with a new link.
    """

    event_type = "billing.subscription.removed.v1"
    topic = BILLING_SUBSCRIPTIONS

    removed_at: UtcDatetime = Field(description="When billing removed it.")


REFUND_SOURCES: Final[tuple[str, ...]] = ("operator", "provider")
"""Who started a refund: an operator through billing, or the provider itself (a refund
made in the provider's cabinet, reported by its notification)."""


class PaymentRefunded(Event):
    """Money of a paid order was given back, in full or in part.

    Emitted by billing once per refund, when the provider vouched that the refund went
    through (for an order paid from the wallet, at once: the money goes back onto the
    wallet). For a plan order ``SubscriptionShortened`` follows in the same transaction; a
    refund onto the wallet (or from it, for a top-up) also has its ``WalletChanged``.
    Consumed by the notifier (tells the customer) and the gateway (read models).
    """

    event_type = "billing.payment.refunded.v1"
    topic = BILLING_PAYMENTS

    order_id: UUID = Field(description="The refunded order.")
    checkout_id: UUID = Field(description="The checkout the order was created for.")
    customer_id: UUID = Field(description="The customer who paid.")
    refund_id: UUID = Field(description="Billing's id of this refund; one event per refund.")
    plan_id: PlanId = Field(
        description=(
            "The plan bought; for an order of kind `topup`, the top-up's id; of kind "
            "`traffic`, the traffic pack's."
        )
    )
    kind: Literal["plan", "topup", "traffic"] = Field(
        description="What the order bought: a plan period, wallet credit, or extra traffic."
    )
    provider: ProviderName = Field(description="How the order was paid: the provider, or `wallet`.")
    provider_refund_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="The provider's id of the refund; absent for a refund onto the wallet.",
    )
    source: Slug = Field(
        description=(
            "Who started it: "
            + ", ".join(f"`{source}`" for source in REFUND_SOURCES)
            + ". New sources may appear."
        )
    )
    refunded_to: Literal["provider", "wallet"] = Field(
        description=(
            "Where the money went: back through the provider it was paid with, or onto the "
            "customer's wallet (an order paid from the wallet)."
        )
    )
    amount: Money = Field(description="What this refund gave back, in the order's currency.")
    refunded_total: Money = Field(
        description="Everything refunded of the order so far, this refund included."
    )
    full: bool = Field(description="True when the order is now refunded in full.")
    refunded_at: UtcDatetime = Field(description="When billing applied the refund.")
    period_end: UtcDatetime | None = Field(
        default=None,
        description=(
            "For a plan order: the end of the customer's access after this refund (not "
            "after `refunded_at` when access ended)."
        ),
    )

    @model_validator(mode="after")
    def _within_total(self) -> Self:
        if self.amount.currency != self.refunded_total.currency:
            raise ValueError("amount and refunded_total are in the order's currency")
        if not 0 < self.amount.amount_minor <= self.refunded_total.amount_minor:
            raise ValueError("a refund is positive and part of refunded_total")
        return self

    def key(self) -> str:
        return str(self.order_id)


WALLET_CHANGE_KINDS: Final[tuple[str, ...]] = (
    "topup",
    "plan_payment",
    "refund",
    "bonus",
    "bonus_reversed",
)
"""Why a wallet changed, as billing's ledger names it; the set may grow within v1."""


class WalletChanged(Event):
    """A customer's wallet balance changed: credited (a top-up, a refund, a bonus) or
    debited (a plan paid from it).

    Emitted by billing in the transaction that posted the ledger entry, once per entry.
    Consumed by the bot (balance and history) and the gateway (read models).
    """

    event_type = "billing.wallet.changed.v1"
    topic = BILLING_WALLETS

    customer_id: UUID = Field(description="Whose wallet.")
    entry_key: str = Field(
        min_length=1,
        max_length=200,
        description="The ledger entry's idempotency key: one event per entry.",
    )
    kind: Slug = Field(
        description=(
            "Why: "
            + ", ".join(f"`{kind}`" for kind in WALLET_CHANGE_KINDS)
            + ". New kinds may appear."
        )
    )
    credited: bool = Field(description="True when money came in, False when it went out.")
    amount: Money = Field(description="How much moved (always positive; see `credited`).")
    balance: Money = Field(description="The balance after the change.")
    order_id: UUID | None = Field(default=None, description="The order behind it, if any.")
    changed_at: UtcDatetime = Field(description="When the entry was posted.")

    def key(self) -> str:
        return str(self.customer_id)


AUTOPAY_OFF_REASONS: Final[tuple[str, ...]] = (
    "customer",
    "permission_revoked",
    "method_unusable",
    "charges_failed",
    "provider_rejected",
    "plan_unavailable",
    "price_raised",
    "subscription_refunded",
)
"""Why automatic renewal is off, as billing names it; the set may grow within v1."""


class AutopayChanged(Event):
    """A customer's automatic renewal as it is now: on (with the next charge) or off (why).

    Emitted by billing whenever it changes: turned on by a payment that saved its method,
    rescheduled when the subscription's end moves, turned off by the customer, the provider
    or failed charges. Consumed by the bot (the subscription screen) and the gateway.
    """

    event_type = "billing.autopay.changed.v1"
    topic = BILLING_AUTOPAY

    customer_id: UUID = Field(description="The customer.")
    enabled: bool = Field(description="Whether the next period will be charged automatically.")
    revision: int = Field(
        strict=True,
        ge=1,
        description="One higher with every change: of two events, the higher is the newer state.",
    )
    provider: ProviderName
    method_title: str | None = Field(
        default=None,
        max_length=128,
        description="How the provider names the saved method, e.g. `Bank card *4477`.",
    )
    amount: Money | None = Field(default=None, description="What the next charge takes.")
    next_charge_at: UtcDatetime | None = Field(
        default=None, description="When the next charge is made (while enabled)."
    )
    period_end: UtcDatetime | None = Field(
        default=None, description="The end of the paid access the next charge extends."
    )
    reason: Slug | None = Field(
        default=None,
        description=(
            "Why it is off (while disabled): "
            + ", ".join(f"`{reason}`" for reason in AUTOPAY_OFF_REASONS)
            + ". New reasons may appear."
        ),
    )
    changed_at: UtcDatetime = Field(description="When billing recorded the change.")

    @model_validator(mode="after")
    def _state(self) -> Self:
        if self.enabled and (self.next_charge_at is None or self.amount is None):
            raise ValueError("an enabled autopay has its next charge and amount")
        if not self.enabled and self.reason is None:
            raise ValueError("a disabled autopay says why")
        return self

    def key(self) -> str:
        return str(self.customer_id)


PromoKind = Literal["percent", "fixed", "free_days", "extra_traffic"]


class PromoOffer(BaseModel):
    """What a promo code gives, as billing accepted it for one customer.

    Exactly one of ``percent_off``, ``amount_off``, ``free_days``, ``extra_traffic_bytes``
    is set, the one its ``kind`` names. ``price`` is the one rule of a discount, used by
    billing to charge and by the bot to show the same figure.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: PromoCodeText
    kind: PromoKind = Field(description="What it gives.")
    percent_off: int | None = Field(
        default=None, strict=True, ge=1, le=99, description="Percent off the price."
    )
    amount_off: Money | None = Field(
        default=None, description="A fixed discount, only on prices in its currency."
    )
    free_days: int | None = Field(
        default=None, strict=True, ge=1, le=3650, description="Days added at once."
    )
    extra_traffic_bytes: ByteCount | None = Field(
        default=None, description="Added to the traffic of the plan bought with the code."
    )
    plan_ids: tuple[PlanId, ...] = Field(
        default=(), description="The plans it is for; empty: every plan."
    )
    valid_until: UtcDatetime | None = Field(default=None, description="Usable until then.")
    first_purchase_only: bool = Field(
        default=False, description="Only for a customer who has never paid."
    )

    @model_validator(mode="after")
    def _one_benefit(self) -> Self:
        given = {
            "percent": self.percent_off,
            "fixed": self.amount_off,
            "free_days": self.free_days,
            "extra_traffic": self.extra_traffic_bytes,
        }
        if given[self.kind] is None or any(
            value is not None for kind, value in given.items() if kind != self.kind
        ):
            raise ValueError(f"a {self.kind} promo sets exactly its own benefit")
        return self

    def applies_to(self, plan_id: str) -> bool:
        return not self.plan_ids or plan_id in self.plan_ids

    def price(self, price: Money) -> Money:
        """``price`` with the discount; the discount is rounded down (the customer never
        pays more than shown) and leaves at least one minor unit to pay. Codes that are
        not discounts, and a fixed one in another currency, leave it as it is."""
        if self.percent_off is not None:
            off = price.amount_minor * self.percent_off // 100
        elif self.amount_off is not None and self.amount_off.currency == price.currency:
            off = self.amount_off.amount_minor
        else:
            return price
        return Money(amount_minor=max(price.amount_minor - off, 1), currency=price.currency)


TRIAL_REFUSALS: Final[tuple[str, ...]] = (
    "trial_off",
    "trial_used",
    "trial_not_for_payers",
    "trial_has_subscription",
    "trial_busy",
)
"""Why billing starts no trial: trials are off; this account had one; the customer has
paid before; they have a subscription; too many trials started in the last hour."""


class TrialDecided(Event):
    """What billing decided about a customer's request for the free trial.

    ``started``: a subscription of ``TRIAL_PLAN`` runs until ``period_end`` (its
    ``SubscriptionActivated`` follows, and provisioning grants access); ``refused``:
    ``reason_code`` says why, nothing changed. Emitted by billing; the customer is told of
    a refusal by a notification.
    """

    event_type = "billing.trial.decided.v1"
    topic = BILLING_PROMOS

    request_id: UUID = Field(description="The id from the bot's command.")
    customer_id: UUID = Field(description="Who asked.")
    outcome: Literal["started", "refused"] = Field(description="Started, or refused.")
    reason_code: Slug | None = Field(default=None, description="When refused.")
    period_end: UtcDatetime | None = Field(default=None, description="When started.")
    decided_at: UtcDatetime = Field(description="When billing decided.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.outcome == "refused") != (self.reason_code is not None):
            raise ValueError("a refusal, and only one, has a reason_code")
        if (self.outcome == "started") != (self.period_end is not None):
            raise ValueError("a started trial, and only one, has its period_end")
        return self

    def key(self) -> str:
        return str(self.customer_id)


class ReferralRewarded(Event):
    """A referred customer's first payment rewarded the customer who invited them (or a
    refund of that payment took the reward back: ``reversed``).

    ``kind`` is ``share`` (``amount`` credited to the referrer's wallet, a ledger posting)
    or ``days`` (``days`` added to the referrer's subscription). Emitted by billing; the
    bot counts it on the referral screen, the referrer is told by a notification.
    """

    event_type = "billing.referral.rewarded.v1"
    topic = BILLING_PROMOS

    referrer_id: UUID = Field(description="Who invited.")
    newcomer_id: UUID = Field(description="Who was invited and paid.")
    order_id: UUID = Field(description="The newcomer's payment that earned it.")
    kind: Literal["share", "days"] = Field(description="A share to the wallet, or days.")
    amount: Money | None = Field(default=None, description="The share credited (kind share).")
    days: int | None = Field(default=None, strict=True, ge=1, description="Days (kind days).")
    reversed: bool = Field(
        default=False, description="A refund took it back (what could be taken back)."
    )
    rewarded_at: UtcDatetime = Field(description="When it was given (or taken back).")

    @model_validator(mode="after")
    def _one_reward(self) -> Self:
        if (self.kind == "share") != (self.amount is not None) or (self.kind == "days") != (
            self.days is not None
        ):
            raise ValueError("a share has its amount, days their days, and nothing else")
        return self

    def key(self) -> str:
        return str(self.referrer_id)


class PromoCodeChecked(Event):
    """What billing decided about a code a customer entered (``PromoCodeEntered``).

    ``accepted``: valid for the customer's next purchase of the plans it names (``offer``);
    ``activated``: free days added at once (the subscription now ends at ``period_end``);
    ``refused``: ``reason_code`` says why (one of the ``promo_*`` codes), nothing changed.
    Emitted by billing; consumed by the bot, which keeps an accepted code for the checkout.
    The customer is told by a notification.
    """

    event_type = "billing.promo.checked.v1"
    topic = BILLING_PROMOS

    request_id: UUID = Field(description="The id from the bot's command.")
    customer_id: UUID = Field(description="Who entered it.")
    code: PromoCodeText
    outcome: Literal["accepted", "activated", "refused"] = Field(
        description="Accepted for the next purchase, activated at once, or refused."
    )
    offer: PromoOffer | None = Field(default=None, description="Unless refused.")
    reason_code: Slug | None = Field(default=None, description="When refused.")
    period_end: UtcDatetime | None = Field(
        default=None, description="When activated: the subscription's new end."
    )
    checked_at: UtcDatetime = Field(description="When billing decided.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.outcome == "refused") != (self.reason_code is not None):
            raise ValueError("a refusal, and only one, has a reason_code")
        if (self.outcome == "refused") == (self.offer is not None):
            raise ValueError("an accepted or activated code has its offer, a refused one none")
        if (self.outcome == "activated") != (self.period_end is not None):
            raise ValueError("an activation, and only one, has the new period_end")
        return self

    def key(self) -> str:
        return str(self.customer_id)


CUSTOMER_SEGMENTS: Final[tuple[str, ...]] = (
    "active",
    "expiring",
    "expired",
    "trial_only",
    "never_paid",
    "churned_30d",
)
"""The segments billing computes besides ``language:<tag>`` and ``region:<region>``: a
period runs (paid, a trial or free days); it ends within the expiring window (72 hours by
default); it has ended (in the grace, suspended or removed); had the trial and never paid
for a plan; never paid for a plan; paid once and the period ended within the churn window
(30 days by default) unrenewed. The set may grow within v1."""

SegmentName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}(:[A-Za-z0-9-]{1,35})?$"),
    Field(
        description=(
            "A segment: "
            + ", ".join(f"`{segment}`" for segment in CUSTOMER_SEGMENTS)
            + ", `language:<BCP 47 tag>`, `region:<region id>`. New segments may appear."
        )
    ),
]


class CustomerSegmentsChanged(Event):
    """A customer's segments as they are now, for campaigns.

    Emitted by billing when a customer's segments, language or region change: with a
    payment, a refund, a trial, a language or region change, or by time alone around the
    subscription's end (expiring, expired, out of the churn window); a customer's first
    computation is published too. The topic is compacted and keyed by customer, so its
    latest record per customer is what they are in now. No consumer yet (campaigns).
    """

    event_type = "billing.customer.segments_changed.v1"
    topic = BILLING_SEGMENTS

    customer_id: UUID = Field(description="The customer.")
    segments: tuple[SegmentName, ...] = Field(
        description="Every segment the customer is in, in a fixed order (the known ones first)."
    )
    language: LanguageTag
    region: RegionId | None = Field(
        default=None, description="Where the subscription's access is; absent until granted."
    )
    as_of: UtcDatetime = Field(description="The moment the segments were computed for.")

    def key(self) -> str:
        return str(self.customer_id)
