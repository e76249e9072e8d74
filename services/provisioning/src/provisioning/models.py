"""The provisioning service's tables, all in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
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

metadata: MetaData = new_metadata()


class Base(ServiceBase):
    __abstract__ = True
    metadata = metadata


messaging = messaging_tables(metadata)


class Region(Base):
    """A place customers choose to be served from, with the regions to fall back to."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint("move_back IN ('stay', 'drain')", name="move_back"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Localized names by BCP 47 tag, e.g. {"ru": "Нидерланды", "en": "Netherlands"}.
    names: Mapped[dict[str, str]] = mapped_column(JSONB)
    flag: Mapped[str] = mapped_column(String(16))
    # The nearest regions first: where customers go when this one has no healthy panel.
    fallbacks: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    # After a failover, whether customers stay on the panel they were moved to or are
    # drained back when theirs returns.
    move_back: Mapped[str] = mapped_column(String(8), default="stay")
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PanelRow(Base):
    """A VPN panel provisioning places users on, and what its probes found.

    Credentials are a secret reference (``env:NAME``, ``file:/path``), never the secret.
    ``sandbox`` is said by the operator, not guessed from the address: a panel on the
    same host (loopback) is a real panel unless marked otherwise, and production refuses
    to use one marked a sandbox.
    """

    __tablename__ = "panels"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity"),
        CheckConstraint("weight >= 0", name="weight"),
    )

    panel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="marzban")
    base_url: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(128))
    password_ref: Mapped[str] = mapped_column(Text)
    # Turns the panel's relative subscription links into absolute ones; base_url if unset.
    subscription_base_url: Mapped[str | None] = mapped_column(Text)
    protocols: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    # Users it may hold (0: no limit) and its share of new placements among its region's
    # panels (0: it takes none, e.g. while being drained).
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(default=True)
    sandbox: Mapped[bool] = mapped_column(default=False)
    # The health the probes found: unknown, healthy, degraded, down, misconfigured or
    # incompatible; why, since when, and the last probe's figures.
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    health_reason: Mapped[str | None] = mapped_column(Text)
    health_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str | None] = mapped_column(String(32))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CatalogPublication(Base):
    """Every regions catalog published, so a restart republishes only what changed."""

    __tablename__ = "catalog_publications"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerLink(Base):
    """A customer's stable subscription link: the token the gateway's ``/sub/{token}``
    answers to. Issued at their first access; a new version revokes the one before."""

    __tablename__ = "customer_links"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Placement(Base):
    """A subscription's user on a panel: what billing says it should be, and what it is.

    Each subscription event that changes the desired state raises ``desired_version``; the
    worker brings the panel to the desired state and records the version it applied.
    Pending work is simply ``applied_version < desired_version``.
    """

    __tablename__ = "placements"

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    region: Mapped[str] = mapped_column(String(32))
    # The panel the user is placed on; None while its region has no panel to take it
    # (the worker places it when one appears).
    panel_id: Mapped[str | None] = mapped_column(String(64), index=True)
    panel_username: Mapped[str] = mapped_column(String(32), unique=True)
    # The protocol the customer chose: the panel user gets only it where the panel offers
    # it (None: every protocol of the panel).
    protocol: Mapped[str | None] = mapped_column(String(16))
    desired_expire: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    desired_traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    # Billing's revision of the subscription the desired state is from (None: from an
    # event written before revisions), and whether that change moved the end earlier.
    desired_revision: Mapped[int | None] = mapped_column(Integer)
    shortened: Mapped[bool] = mapped_column(default=False)
    # Billing's stage after the end: ``active`` (served until ``desired_expire``),
    # ``suspended`` (the user disabled, kept with its link) or ``removed`` (deleted).
    desired_state: Mapped[str] = mapped_column(String(16), default="active")
    # The end of the paid period (the expiry is later by the grace): what customers are
    # told; None for placements made before grace periods.
    desired_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A paid extension starts a new allowance: the panel's usage count is reset once,
    # keeping what was left of the limit (``carry_pending``, measured before the reset);
    # applied, that remainder stays part of the limit (``carried_bytes``).
    renewal_due: Mapped[bool] = mapped_column(default=False)
    # The plan's traffic rules: whether a renewal carries what was left, and whether the
    # panel starts the allowance again every month (its reset strategy).
    carry_over: Mapped[bool] = mapped_column(default=True)
    traffic_reset: Mapped[str] = mapped_column(String(8), default="none")
    carry_pending: Mapped[int | None] = mapped_column(BigInteger)
    carried_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Traffic packs bought for the current allowance (billing's total); a renewal or a plan
    # change starts the next allowance without them (what was left is carried, as above).
    extra_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Panels a failover moved the user away from: their users are disabled once each
    # panel answers again (never left serving a second copy), then the panel is dropped.
    stale_panels: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    moved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The panel a failover first moved the user away from, while it is elsewhere: in a
    # region whose move-back policy is drain, the user goes back to it once it is healthy.
    home_panel_id: Mapped[str | None] = mapped_column(String(64))
    desired_version: Mapped[int] = mapped_column(Integer)
    # The desired version reconciliation raised to repair drift on the panel: applied, it
    # grants no access again (the customer's link is unchanged) unless the user was created.
    repair_version: Mapped[int | None] = mapped_column(Integer)
    applied_version: Mapped[int] = mapped_column(Integer, default=0)
    on_panel: Mapped[bool] = mapped_column(default=False)
    # The user's status on the panel as last granted or seen by the panel watch (the panel
    # limits and expires users by itself); a change is published as AccessStatusChanged.
    panel_status: Mapped[str | None] = mapped_column(String(16))
    # The traffic the panel counted and the limit it had when the watch last looked (only
    # a change is published), and the highest threshold of that allowance (0, 80 or 100
    # percent) the customer was told of: a new allowance falls below it and re-arms it.
    seen_used_bytes: Mapped[int | None] = mapped_column(BigInteger)
    seen_limit_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # (A server default: rows written by statements that predate it start below all.)
    announced_threshold: Mapped[int] = mapped_column(
        SmallInteger, default=0, server_default=text("0")
    )
    subscription_url: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    failure_reported: Mapped[bool] = mapped_column(default=False)
    gave_up: Mapped[bool] = mapped_column(default=False)
    # Trace of the event that last changed the desired state; the worker continues it.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The failover's clean-up reads only placements that left a stale user behind.
Index(
    "ix_placements_stale",
    Placement.subscription_id,
    postgresql_where=text("cardinality(stale_panels) > 0"),
)

# Draining back reads only placements a failover moved away from their home panel.
Index(
    "ix_placements_home",
    Placement.home_panel_id,
    postgresql_where=text("home_panel_id IS NOT NULL"),
)

# The worker's claim scans only what is pending, however many placements there are.
Index(
    "ix_placements_pending",
    Placement.next_attempt_at,
    postgresql_where=text("applied_version < desired_version AND NOT gave_up"),
)
