"""The notifier service's tables, all in its own database."""

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


class Contact(Base):
    """How to reach a customer, kept from the bot's events."""

    __tablename__ = "contacts"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(35))  # a BCP 47 tag
    # Reminders about the subscription's end (templates.OPTIONAL); the rest always goes.
    reminders: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Delivery(Base):
    """One message to one customer, keyed by what caused it: at most one per cause.

    ``pending`` → ``sending`` → ``sent``; ``failed`` when Telegram refused for good;
    ``uncertain`` when the process stopped mid-send and Telegram may have the message
    (never sent twice, so never retried).
    """

    __tablename__ = "deliveries"

    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    template: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Trace of the event the message tells about; sending continues it.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


Index(
    "ix_deliveries_pending",
    Delivery.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
)
