"""The bot service's tables, all in its own database."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Index, Integer, MetaData, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from chassis.db import ServiceBase, new_metadata
from chassis.messaging.tables import messaging_tables

metadata: MetaData = new_metadata()


class Base(ServiceBase):
    __abstract__ = True
    metadata = metadata


messaging = messaging_tables(metadata)


class Customer(Base):
    """A Telegram user who talked to the bot; the platform-wide customer id is minted here."""

    __tablename__ = "customers"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(35))  # a BCP 47 tag
    # The code of the link they came by (whose invitee they are).
    referral_code: Mapped[str | None] = mapped_column(String(64), index=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    email: Mapped[str | None] = mapped_column(String(254))  # for 54-FZ receipts
    # Reminders about the subscription's end (the notifier sends them); the settings screen.
    reminders: Mapped[bool] = mapped_column(default=True)
    # What the customer's next text message answers (a conversation that outlives any
    # replica): a ``bot.receipts.PendingCheckout`` while the bot waits for an e-mail.
    awaiting: Mapped[str | None] = mapped_column(String(256))
    # The region (and protocol) the customer chose for the purchase in progress: the plan
    # screen shows that region's price, and the checkout asks for it.
    chosen_region: Mapped[str | None] = mapped_column(String(32))
    chosen_protocol: Mapped[str | None] = mapped_column(String(16))


class CatalogMirror(Base):
    """The latest catalog billing published (``billing.catalog.published.v2``); one row."""

    __tablename__ = "catalog_mirror"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    catalog_version: Mapped[int] = mapped_column(Integer)
    plans: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    topups: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    payment_methods: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    wallet_currency: Mapped[str | None] = mapped_column(String(3))
    # The price experiments running (what each customer is quoted: bot.catalog.Catalog).
    experiments: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    traffic_packs: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RegionsMirror(Base):
    """The latest regions catalog provisioning published (``provisioning.regions.published.v1``);
    one row."""

    __tablename__ = "regions_mirror"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    catalog_version: Mapped[int] = mapped_column(Integer)
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # contracts' RegionOffer
    default_region: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Checkout(Base):
    """A payment link the customer asked for, and the message that will show it."""

    __tablename__ = "checkouts"

    checkout_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default="plan")  # plan | topup
    plan_id: Mapped[str] = mapped_column(String(32))  # or the top-up's id
    provider: Mapped[str] = mapped_column(String(32))
    # requested -> ready | failed | paid (from the wallet); ready -> paid (billing says so)
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[UUID | None] = mapped_column(index=True)
    confirmation_url: Mapped[str | None] = mapped_column(Text)
    # For Telegram Stars: the invoice the screen worker sends into the chat.
    invoice: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    balance_minor: Mapped[int | None] = mapped_column(BigInteger)  # after a wallet payment
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The message, kept up to date by the checkout screen worker (bot/checkouts.py): what it
    # shows now (preparing | slow | ready | invoice | failed | paid; unreachable when the
    # customer blocked the bot or Telegram failed for good, unshowable when it refused), and
    # when it is next due to change (NULL: nothing to show).
    screen_shown: Mapped[str] = mapped_column(String(16), default="preparing")
    screen_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    screen_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    screen_attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index(
            "ix_checkouts_screen_due_at",
            "screen_due_at",
            postgresql_where=text("screen_due_at IS NOT NULL"),
        ),
    )


class CustomerSubscription(Base):
    """What the customer has, as billing and provisioning reported it: for "my subscription"."""

    __tablename__ = "customer_subscriptions"

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(unique=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    subscription_url: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The panel user's status, as provisioning granted or last saw it (``active``,
    # ``limited`` when the traffic ran out, ``disabled``, ``expired``).
    access_status: Mapped[str | None] = mapped_column(String(16))
    # Served until (the end plus the grace), and billing's stage after it: ``active``,
    # ``suspended`` (cut off, the link kept) or ``removed`` (the link is gone).
    access_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(String(16), default="active")
    # Where and how provisioning serves the access (its last grant): what "My subscription"
    # offers to change. None before the first grant; protocol None: every protocol.
    region: Mapped[str | None] = mapped_column(String(32))
    protocol: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TrafficUsage(Base):
    """A subscription's traffic as provisioning last read it from the panel
    (``provisioning.usage``): "My subscription" shows used and remaining."""

    __tablename__ = "traffic_usages"

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger)
    # The allowance on the panel, with what was carried into it and traffic packs; 0: none.
    limit_bytes: Mapped[int] = mapped_column(BigInteger)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerAutopay(Base):
    """A customer's automatic renewal for "My subscription": as billing last reported it
    (``billing.autopay.v1``, the highest revision), or turned off here by the customer."""

    __tablename__ = "customer_autopays"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    enabled: Mapped[bool]
    revision: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(32))
    method_title: Mapped[str | None] = mapped_column(String(128))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    next_charge_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(64))  # why it is off
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the customer last pressed "turn off" in the bot: billing's "on" from before it
    # saw the press must not turn it back on.
    turned_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Wallet(Base):
    """A customer's balance as billing reported it (``billing.wallet.changed.v1``)."""

    __tablename__ = "wallets"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WalletMovement(Base):
    """One change of a wallet, for the customer's history; one per ledger entry."""

    __tablename__ = "wallet_movements"

    entry_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(64))
    credited: Mapped[bool]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[UUID | None]
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerPromo(Base):
    """The promo code billing accepted for a customer's next purchase
    (``billing.promo.checked.v1``): the bot shows its prices and names it in the checkout,
    until an order takes its use."""

    __tablename__ = "customer_promos"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    offer: Mapped[dict[str, Any]] = mapped_column(JSONB)  # a contracts.billing.PromoOffer
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferralEarning(Base):
    """A reward a customer's invitee earned them (``billing.referral.rewarded.v1``), for the
    referral screen; ``reversed`` when a refund took it back."""

    __tablename__ = "referral_earnings"

    newcomer_id: Mapped[UUID] = mapped_column(primary_key=True)
    referrer_id: Mapped[UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(8))  # share | days
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    days: Mapped[int | None] = mapped_column(Integer)
    reversed: Mapped[bool] = mapped_column(default=False)
    rewarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
