"""The gateway service's tables, all in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from chassis.db import ServiceBase, new_metadata
from chassis.messaging.tables import messaging_tables

metadata: MetaData = new_metadata()


class Base(ServiceBase):
    __abstract__ = True
    metadata = metadata


messaging = messaging_tables(metadata)


class LinkToken(Base):
    """A customer's stable-link token, newest version only (provisioning's
    ``AccessLinkIssued``). Kept as its SHA-256: a copy of this table opens no one's VPN."""

    __tablename__ = "link_tokens"

    customer_id: Mapped[UUID] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ServedAccess(Base):
    """A subscription's current access as the stable link serves it: the share links of
    its current panel user (``AccessGranted``), and its status (``AccessStatusChanged``)."""

    __tablename__ = "served_access"

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(index=True)
    links: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # active, on_hold and limited are served; disabled and expired are not.
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    traffic_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    used_traffic_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
