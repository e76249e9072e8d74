"""The billing service's tables, all in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from chassis.db import ServiceBase, new_metadata
from chassis.messaging.tables import messaging_tables
from chassis.timers import timer_table

metadata: MetaData = new_metadata()


class Base(ServiceBase):
    __abstract__ = True
    metadata = metadata


messaging = messaging_tables(metadata)
timers = timer_table(metadata)  # due times: billing.lifecycle's reminders


class PlanRow(Base):
    """A plan as operators configure it; the catalog events are snapshots of these rows."""

    __tablename__ = "plans"

    plan_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    titles: Mapped[dict[str, str]] = mapped_column(JSONB)  # language tag -> name
    # A period is ``duration_months`` calendar months when set, else ``duration_days``
    # (billing.domain.periods.Term); a month plan's days are its nominal length.
    duration_days: Mapped[int] = mapped_column(Integer)
    duration_months: Mapped[int] = mapped_column(Integer, default=0)
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    # The traffic rules (billing.domain.traffic): what is left is carried into a renewal,
    # or the allowance is reset every month; never both.
    traffic_carry_over: Mapped[bool] = mapped_column(default=True)
    traffic_reset: Mapped[str] = mapped_column(String(8), default="none")
    active: Mapped[bool]
    position: Mapped[int] = mapped_column(Integer)
    # The level of service: a higher tier is an upgrade, a lower one a downgrade
    # (billing.domain.plan_changes); plans of one tier are the same service for longer.
    tier: Mapped[int] = mapped_column(SmallInteger, default=0)

    __table_args__ = (
        CheckConstraint("traffic_reset IN ('none', 'month')", name="traffic_reset"),
        CheckConstraint(
            "NOT (traffic_carry_over AND traffic_reset = 'month')", name="carry_or_reset"
        ),
        CheckConstraint("duration_months >= 0", name="duration_months"),
    )


class PlanPrice(Base):
    """A plan's price in one currency; a plan is sold in exactly the currencies it has."""

    __tablename__ = "plan_prices"

    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.plan_id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)


class PlanRegionPrice(Base):
    """A plan's price in one currency for customers who choose one region; the plan's base
    price (``PlanPrice``) in every currency the region has none of."""

    __tablename__ = "plan_region_prices"

    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.plan_id", ondelete="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)


class RegionsMirror(Base):
    """The regions provisioning last published (``provisioning.regions.published.v1``):
    what a regional price may name. One row."""

    __tablename__ = "regions_mirror"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    catalog_version: Mapped[int] = mapped_column(Integer)
    regions: Mapped[list[str]] = mapped_column(JSONB)  # the region codes, in display order
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TopUpRow(Base):
    """A wallet top-up on sale: ``credit`` on the balance for one of its prices."""

    __tablename__ = "topups"

    topup_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    credit_minor: Mapped[int] = mapped_column(BigInteger)
    credit_currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool]
    position: Mapped[int] = mapped_column(Integer)


class TopUpPrice(Base):
    __tablename__ = "topup_prices"

    topup_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("topups.topup_id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)


class TrafficPackRow(Base):
    """Extra traffic on sale to subscribers, for their current allowance."""

    __tablename__ = "traffic_packs"

    pack_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    traffic_bytes: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool]
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("traffic_bytes > 0", name="traffic"),)


class TrafficPackPrice(Base):
    __tablename__ = "traffic_pack_prices"

    pack_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("traffic_packs.pack_id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)


class CatalogPublication(Base):
    """Every catalog version published, so a restart republishes only what changed."""

    __tablename__ = "catalog_publications"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Customer(Base):
    """What billing keeps of each customer: who referred them, for later rewards."""

    __tablename__ = "customers"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(35))  # a BCP 47 tag
    referral_code: Mapped[str | None] = mapped_column(String(64))  # whose link they came by
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    email: Mapped[str | None] = mapped_column(String(254))  # for 54-FZ receipts
    # Their own code (contracts.bot.referral_code_for): how billing finds a referrer.
    own_referral_code: Mapped[str | None] = mapped_column(String(16), unique=True)


class Order(Base):
    """One checkout: what was sold as it was sold (price, period, traffic) and its payment.

    Its states and the moves between them are ``billing.domain.orders``; its SQL is
    ``billing.orders``.
    """

    __tablename__ = "orders"

    order_id: Mapped[UUID] = mapped_column(primary_key=True)
    checkout_id: Mapped[UUID] = mapped_column(unique=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))  # plan | topup
    plan_id: Mapped[str | None] = mapped_column(String(32))
    topup_id: Mapped[str | None] = mapped_column(String(32))
    pack_id: Mapped[str | None] = mapped_column(String(32))  # a traffic pack's
    credit_minor: Mapped[int | None] = mapped_column(BigInteger)  # a top-up's credit
    credit_currency: Mapped[str | None] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(35))  # of the customer, at checkout
    title: Mapped[str] = mapped_column(String(128))  # what was sold, in that language
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    duration_days: Mapped[int] = mapped_column(Integer)
    duration_months: Mapped[int] = mapped_column(Integer, default=0)
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    traffic_carry_over: Mapped[bool] = mapped_column(default=True)
    traffic_reset: Mapped[str] = mapped_column(String(8), default="none")
    tier: Mapped[int] = mapped_column(SmallInteger, default=0)
    # The promo code whose use this order holds, and the price before its discount.
    promo_code: Mapped[str | None] = mapped_column(String(32))
    list_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    # The quote the price came from (billing.quotes), and its experiment's variant if any.
    quote_id: Mapped[UUID | None]
    experiment_id: Mapped[str | None] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(16))
    # The region the customer chose (provisioning's catalog); None: provisioning's default.
    region: Mapped[str | None] = mapped_column(String(32))
    # The protocol the customer chose there; None: every protocol of the panel.
    protocol: Mapped[str | None] = mapped_column(String(16))
    # The period a paid plan order bought (a refund takes back a share of it).
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The grace after the period's end this order was sold with (BILLING_GRACE_HOURS then).
    grace_hours: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str] = mapped_column(String(32))
    provider_payment_id: Mapped[str | None] = mapped_column(String(128))
    # The charge refunds name, where the provider has one besides the payment (a WATA
    # transaction, a Telegram payment charge).
    provider_charge_id: Mapped[str | None] = mapped_column(String(256))
    confirmation_url: Mapped[str | None] = mapped_column(Text)
    # Where this order's 54-FZ receipts go (its payment's and its refunds'); None: no receipt.
    receipt_email: Mapped[str | None] = mapped_column(String(254))
    payment_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A payment past its expiry is looked up with the provider (billing/expiry.py): leased
    # while a worker asks, and counted, so that one the provider keeps open is closed.
    expiry_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expiry_checks: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # billing.domain.orders.OrderStatus
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    cancellation_party: Mapped[str | None] = mapped_column(String(64))
    cancellation_reason: Mapped[str | None] = mapped_column(String(64))
    subscription_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What refunds gave back so far (billing.refunds); all of it makes the order refunded.
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # The payment is created by the checkout worker (billing/checkout.py): due while this is
    # set, leased while a worker calls the provider.
    return_url: Mapped[str | None] = mapped_column(Text)
    checkout_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkout_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkout_attempts: Mapped[int] = mapped_column(Integer, default=0)
    checkout_correlation_id: Mapped[str | None] = mapped_column(String(128))
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    # Autopay (billing.autopay): the consent a checkout that saves its method was given (an
    # AutopayConsentRow), and whether this order is a charge autopay made of a saved method.
    autopay_consent_id: Mapped[UUID | None]
    autopay_charge: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index(
            "ix_orders_checkout_due_at",
            "checkout_due_at",
            postgresql_where=text("checkout_due_at IS NOT NULL"),
        ),
        # One order per provider payment; payment ids are unique only within a provider.
        Index("uq_orders_provider_payment", "provider", "provider_payment_id", unique=True),
        Index(
            "ix_orders_pending_expiry",
            "payment_expires_at",
            postgresql_where=text("status = 'pending' AND payment_expires_at IS NOT NULL"),
        ),
        # An experiment's report reads its orders only.
        Index(
            "ix_orders_experiment",
            "experiment_id",
            "variant",
            postgresql_where=text("experiment_id IS NOT NULL"),
        ),
    )


class Subscription(Base):
    """What a customer has paid for: one subscription per customer, extended by each order."""

    __tablename__ = "subscriptions"

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(unique=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    # One higher with every change (an order extends it, a refund shortens it); carried by
    # the subscription events, so that their readers can tell the newer state.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The customer is served until ``access_until``: the end plus the grace of the order
    # that set it. ``stage`` is what the due times did after it (billing.domain.lifecycle).
    access_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(String(16), default="active")
    # The day of the month its month periods end on (billing.domain.periods).
    anchor_day: Mapped[int | None] = mapped_column(SmallInteger)
    # The current plan's tier and traffic rules (billing.domain.plan_changes).
    tier: Mapped[int] = mapped_column(SmallInteger, default=0)
    traffic_carry_over: Mapped[bool] = mapped_column(default=True)
    traffic_reset: Mapped[str] = mapped_column(String(8), default="none")
    # A downgrade paid for: its order's plan applies from ``pending_from`` (the end of the
    # time paid at the current plan), when its due time fires.
    pending_order_id: Mapped[UUID | None]
    pending_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Traffic packs bought for the current allowance; the next allowance starts without.
    extra_traffic_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Where provisioning last granted its access (AccessGranted): for customer segments.
    region: Mapped[str | None] = mapped_column(String(32))


class AutopayConsentRow(Base):
    """The consent log: what a customer agreed to before a payment saved their method
    (the text's version, amount and period shown), and when it was withdrawn."""

    __tablename__ = "autopay_consents"

    consent_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("orders.order_id"))
    terms_version: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    period_days: Mapped[int] = mapped_column(Integer)
    period_months: Mapped[int] = mapped_column(Integer, default=0)
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))  # an AutopayChanged reason


class Autopay(Base):
    """A customer's automatic renewal: the saved method, what it charges, and what is due.

    Its rules are ``billing.domain.autopay``; its SQL and changes ``billing.autopay``; the
    worker that sends reminders and charges is ``billing.autopay_worker``.
    """

    __tablename__ = "autopays"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    subscription_id: Mapped[UUID]
    provider: Mapped[str] = mapped_column(String(32))
    # Forgotten (None) as soon as autopay is off: a withdrawn method is never charged.
    method_id: Mapped[str | None] = mapped_column(String(128))
    method_title: Mapped[str | None] = mapped_column(String(128))
    consent_id: Mapped[UUID | None] = mapped_column(ForeignKey("autopay_consents.consent_id"))
    plan_id: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # consented; a charge takes no more
    currency: Mapped[str] = mapped_column(String(3))
    period_days: Mapped[int] = mapped_column(Integer)
    period_months: Mapped[int] = mapped_column(Integer, default=0)
    receipt_email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(35))
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(String(64))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer)
    # The end of paid access the next charge extends; a charge is made only while the
    # subscription still ends there (an earlier payment by hand moves it).
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notice_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # None while a charge is with the provider (charge_order_id) or autopay is off.
    charge_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    charge_order_id: Mapped[UUID | None]
    # What happened that the worker has yet to plan for and tell (billing.autopay.Change),
    # written by the payment and refund code, which has no schedule; and a decline's reason.
    change: Mapped[str | None] = mapped_column(String(16))
    decline_reason: Mapped[str | None] = mapped_column(String(64))
    declines: Mapped[int] = mapped_column(Integer, default=0)  # of this period's charges
    unavailable_attempts: Mapped[int] = mapped_column(Integer, default=0)  # of this charge
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        Index("ix_autopays_charge_due_at", "charge_due_at", postgresql_where=text("enabled")),
        Index("ix_autopays_notice_due_at", "notice_due_at", postgresql_where=text("enabled")),
        Index("ix_autopays_change", "change", postgresql_where=text("change IS NOT NULL")),
    )


class Refund(Base):
    """Money of a paid order given back, or asked back: one row per refund.

    An operator's refund is recorded ``requested`` and due for the refund worker, which
    asks the provider (``billing.refund_worker``); a refund a provider reports without
    billing having asked for it is recorded when its notification is applied. Applying a
    refund (``billing.refunds.apply``) happens once: the row's status says whether it has.
    """

    __tablename__ = "refunds"

    refund_id: Mapped[UUID] = mapped_column(primary_key=True)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("orders.order_id"), index=True)
    customer_id: Mapped[UUID]
    provider: Mapped[str] = mapped_column(String(32))  # the order's; wallet for the wallet
    provider_refund_id: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16))  # operator | provider
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    # billing.domain.refunds.RefundStatus: requested | pending | succeeded | failed
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The provider is asked by the refund worker: due while this is set, leased while a
    # worker calls the provider.
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        Index("ix_refunds_due_at", "due_at", postgresql_where=text("due_at IS NOT NULL")),
        # A provider's refund is applied once; ids are unique only within a provider.
        Index("uq_refunds_provider_refund", "provider", "provider_refund_id", unique=True),
    )


class ProviderNotification(Base):
    """Every notification a provider sent, as received, and what verifying it found.

    The consumer records it (``received``); the verifier worker checks it with the provider
    outside any transaction and records the verdict (``done``): the audit of every webhook.
    """

    __tablename__ = "provider_notifications"

    notification_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # event id
    provider: Mapped[str] = mapped_column(String(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    reference: Mapped[str | None] = mapped_column(String(128), index=True)
    remote_address: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # received | done
    outcome: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    verified_status: Mapped[str | None] = mapped_column(String(32))
    provider_payment_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_provider_notifications_due_at",
            "due_at",
            postgresql_where=text("status = 'received'"),
        ),
    )


class LedgerAccount(Base):
    """An account of the ledger, with its balance kept equal to the sum of its postings."""

    __tablename__ = "ledger_accounts"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # billing.domain.ledger.AccountKind
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[UUID | None] = mapped_column(index=True)
    balance_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # The last line of defence: the ledger code checks first, the database refuses too.
        CheckConstraint("kind <> 'wallet' OR balance_minor >= 0", name="wallet_not_negative"),
    )


class LedgerEntry(Base):
    """One movement of money, named by the idempotency key of its cause; never changed."""

    __tablename__ = "ledger_entries"

    entry_id: Mapped[UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[UUID | None] = mapped_column(index=True)
    order_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LedgerPosting(Base):
    """One side of an entry: an amount (signed) on one account."""

    __tablename__ = "ledger_postings"

    posting_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[UUID] = mapped_column(ForeignKey("ledger_entries.entry_id"), index=True)
    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("ledger_accounts.account_id"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class PromoCode(Base):
    """A promo code as an operator made it (``python -m billing promo create``) and how many
    of its uses are taken; its rules are ``billing.domain.promos``, its SQL ``billing.promos``.
    """

    __tablename__ = "promo_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # percent | fixed | free_days | extra_traffic
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_off_currency: Mapped[str | None] = mapped_column(String(3))
    free_days: Mapped[int | None] = mapped_column(Integer)
    extra_traffic_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # The plans it is for (empty: all); a free-days code starts a subscription on the first.
    plan_ids: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    once_per_customer: Mapped[bool] = mapped_column(default=True)
    first_purchase_only: Mapped[bool] = mapped_column(default=False)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "kind = 'percent' AND percent_off BETWEEN 1 AND 99 AND amount_off_minor IS NULL"
            " AND free_days IS NULL AND extra_traffic_bytes IS NULL"
            " OR kind = 'fixed' AND amount_off_minor > 0 AND amount_off_currency IS NOT NULL"
            " AND percent_off IS NULL AND free_days IS NULL AND extra_traffic_bytes IS NULL"
            " OR kind = 'free_days' AND free_days > 0 AND percent_off IS NULL"
            " AND amount_off_minor IS NULL AND extra_traffic_bytes IS NULL"
            " OR kind = 'extra_traffic' AND extra_traffic_bytes > 0 AND percent_off IS NULL"
            " AND amount_off_minor IS NULL AND free_days IS NULL",
            name="one_benefit",
        ),
        # The last line of defence: billing.promos counts under the row's lock.
        CheckConstraint("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="uses"),
    )


class PromoRedemption(Base):
    """One use of a code: taken with an order (``reserved`` until it is paid, ``released``
    if it never is) or at once (free days, ``used``)."""

    __tablename__ = "promo_redemptions"

    redemption_id: Mapped[UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), ForeignKey("promo_codes.code"))
    customer_id: Mapped[UUID]
    order_id: Mapped[UUID | None] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16))  # reserved | used | released
    # The code's once-per-customer rule when it was taken.
    once: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "uq_promo_redemptions_once",
            "code",
            "customer_id",
            unique=True,
            postgresql_where=text("once AND status <> 'released'"),
        ),
        Index("ix_promo_redemptions_customer", "customer_id"),
    )


class Trial(Base):
    """A free trial started (``billing.trials``): once per Telegram account and per
    customer, and converted when the customer first pays for a plan."""

    __tablename__ = "trials"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    order_id: Mapped[UUID]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_order_id: Mapped[UUID | None]


class ReferralReward(Base):
    """What a referred customer's first payment earned the customer who invited them
    (``billing.referrals``): one per newcomer, taken back if that payment is refunded."""

    __tablename__ = "referral_rewards"

    newcomer_id: Mapped[UUID] = mapped_column(primary_key=True)
    referrer_id: Mapped[UUID] = mapped_column(index=True)
    order_id: Mapped[UUID] = mapped_column(unique=True)  # the newcomer's payment
    kind: Mapped[str] = mapped_column(String(8))  # share | days
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # granted | reversed
    rewarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the reversal could take back (a share already spent from the wallet is not).
    reversed_minor: Mapped[int | None] = mapped_column(BigInteger)


class PriceExperimentRow(Base):
    """A price experiment (billing.domain.prices): running until ``stopped_at``."""

    __tablename__ = "price_experiments"

    experiment_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_ids: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PriceVariantRow(Base):
    """One variant of an experiment: its weight and its prices over the list prices."""

    __tablename__ = "price_variants"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("price_experiments.experiment_id"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    weight: Mapped[int] = mapped_column(Integer)
    # plan id -> currency -> amount in minor units; what is absent is the list price.
    overrides: Mapped[dict[str, dict[str, int]]] = mapped_column(JSONB)


class PriceQuoteRow(Base):
    """A quote: prices billing offered for a plan, which a checkout names. Never changed;
    withdrawn when no longer offered (billing.quotes)."""

    __tablename__ = "price_quotes"

    quote_id: Mapped[UUID] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    experiment_id: Mapped[str | None] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(16))
    # The region whose prices these are (None: the plan's base prices, or a variant's).
    region: Mapped[str | None] = mapped_column(String(32))
    prices: Mapped[dict[str, int]] = mapped_column(JSONB)  # currency -> amount in minor units
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_price_quotes_offered", "plan_id", postgresql_where=text("withdrawn_at IS NULL")),
    )


class CustomerSegments(Base):
    """A customer's segments as last published (``billing.segments``), and when they are
    due to be computed again: at the next moment time alone changes them, or at once when
    one of their facts changes (whatever changes it sets ``next_change_at`` to now)."""

    __tablename__ = "customer_segments"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    segments: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    language: Mapped[str | None] = mapped_column(String(35))
    region: Mapped[str | None] = mapped_column(String(32))
    # None: only a new fact can change them.
    next_change_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: never

    __table_args__ = (
        Index(
            "ix_customer_segments_next_change_at",
            "next_change_at",
            postgresql_where=text("next_change_at IS NOT NULL"),
        ),
    )


class SubscriptionUsage(Base):
    """A subscription's traffic as provisioning last read it from its panel
    (``provisioning.usage``): for the partner and admin API."""

    __tablename__ = "subscription_usages"

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    used_traffic_bytes: Mapped[int] = mapped_column(BigInteger)
    # The allowance on the panel (the plan's, carried over and packs); 0: unlimited.
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
