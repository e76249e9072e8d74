"""The provisioning service's tables, all in its own database."""

from __future__ import annotations

from datetime import datetime
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
    panel_id: Mapped[str] = mapped_column(String(64))
    panel_username: Mapped[str] = mapped_column(String(32), unique=True)
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
    desired_version: Mapped[int] = mapped_column(Integer)
    applied_version: Mapped[int] = mapped_column(Integer, default=0)
    on_panel: Mapped[bool] = mapped_column(default=False)
    # The user's status on the panel as last granted or seen by the panel watch (the panel
    # limits and expires users by itself); a change is published as AccessStatusChanged.
    panel_status: Mapped[str | None] = mapped_column(String(16))
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


# The worker's claim scans only what is pending, however many placements there are.
Index(
    "ix_placements_pending",
    Placement.next_attempt_at,
    postgresql_where=text("applied_version < desired_version AND NOT gave_up"),
)
