"""Events produced by billing: the plan catalog, checkouts, payments and subscriptions."""

from __future__ import annotations

from typing import Annotated, Final, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.envelope import Event
from contracts.fields import (
    ByteCount,
    HttpUrl,
    PlanId,
    ProviderName,
    ProviderPaymentId,
    Slug,
    UtcDatetime,
)
from contracts.money import Money
from contracts.topics import (
    BILLING_CATALOG,
    BILLING_CHECKOUTS,
    BILLING_PAYMENTS,
    BILLING_SUBSCRIPTIONS,
)

CATALOG_KEY: Final = "catalog"
"""Key of every catalog record: compaction then keeps exactly the latest catalog."""

CHECKOUT_FAILURE_REASONS: Final[tuple[str, ...]] = (
    "plan_not_found",
    "plan_inactive",
    "customer_unknown",
    "provider_unsupported",
    "provider_unavailable",
    "provider_rejected",
    "checkout_conflict",
)
"""Reason codes billing uses today in ``CheckoutFailed``; the set may grow within v1."""

Title = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class LocalizedText(BaseModel):
    """A user-facing text in every language the platform speaks."""

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

    Emitted by billing to the compacted catalog topic, always under the same key. Consumed
    by the bot (plan menu) and the gateway (partner API), which mirror the latest catalog.
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
    expires_at: UtcDatetime | None = Field(
        default=None, description="When the payment link stops working, if the provider says."
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

    Emitted by billing once per order, only after verification with the provider. Consumed
    by the gateway (read models) and the bot (thanks the customer); billing itself turns it
    into a subscription event.
    """

    event_type = "billing.payment.succeeded.v1"
    topic = BILLING_PAYMENTS

    order_id: UUID = Field(description="The paid order.")
    checkout_id: UUID = Field(description="The checkout the order was created for.")
    customer_id: UUID = Field(description="The paying customer.")
    plan_id: PlanId
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
    plan_id: PlanId
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

    @model_validator(mode="after")
    def _period_not_empty(self) -> Self:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
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


class SubscriptionExtended(_SubscriptionPeriod):
    """A paid order added a period to an existing subscription.

    Emitted by billing after ``PaymentSucceeded``. Consumed by provisioning (moves the
    panel user's expiry to ``period_end``) and the gateway (read models).
    """

    event_type = "billing.subscription.extended.v1"
    topic = BILLING_SUBSCRIPTIONS

    previous_period_end: UtcDatetime = Field(description="End of the access before this extension.")

    @model_validator(mode="after")
    def _extends(self) -> Self:
        if self.period_start < self.previous_period_end:
            raise ValueError("an extension starts no earlier than the previous period end")
        return self
