"""The billing service's tables, all in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from chassis.db import ServiceBase, new_metadata
from chassis.messaging.tables import messaging_tables

metadata: MetaData = new_metadata()


class Base(ServiceBase):
    __abstract__ = True
    metadata = metadata


messaging = messaging_tables(metadata)


class PlanRow(Base):
    """A plan as operators configure it; the catalog events are snapshots of these rows."""

    __tablename__ = "plans"

    plan_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title_ru: Mapped[str] = mapped_column(String(128))
    title_en: Mapped[str] = mapped_column(String(128))
    duration_days: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool]
    position: Mapped[int] = mapped_column(Integer)


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
    referral_code: Mapped[str | None] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Order(Base):
    """One checkout: the plan as it was sold (price, period, traffic) and its payment."""

    __tablename__ = "orders"

    order_id: Mapped[UUID] = mapped_column(primary_key=True)
    checkout_id: Mapped[UUID] = mapped_column(unique=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    duration_days: Mapped[int] = mapped_column(Integer)
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(32))
    provider_payment_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    confirmation_url: Mapped[str | None] = mapped_column(Text)
    payment_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # pending -> paid | canceled; failed when no payment link could be made
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    cancellation_party: Mapped[str | None] = mapped_column(String(64))
    cancellation_reason: Mapped[str | None] = mapped_column(String(64))
    subscription_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The payment is created by the checkout worker (billing/checkout.py): due while this is
    # set, leased while a worker calls the provider.
    return_url: Mapped[str | None] = mapped_column(Text)
    checkout_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkout_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkout_attempts: Mapped[int] = mapped_column(Integer, default=0)
    checkout_correlation_id: Mapped[str | None] = mapped_column(String(128))
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index(
            "ix_orders_checkout_due_at",
            "checkout_due_at",
            postgresql_where=text("checkout_due_at IS NOT NULL"),
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentCheck(Base):
    """Every payment notification and what verifying it with the provider found: the audit."""

    __tablename__ = "payment_checks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    provider_payment_id: Mapped[str] = mapped_column(String(128), index=True)
    claimed_event: Mapped[str | None] = mapped_column(String(64))
    verified_status: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    remote_address: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
