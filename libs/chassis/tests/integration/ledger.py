"""A consumer service built on the chassis exactly as the real services are.

It applies ``SendNotification`` commands to a ledger whose tables have no unique key
on the event id, so any double application would show as a second row. Run in-process
by the tests, or as its own process (``python ledger.py``) when a test kills it.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic_settings import SettingsConfigDict
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    Table,
    Text,
    func,
    insert,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from chassis.cli import main
from chassis.db import new_metadata
from chassis.messaging.consumer import MessageContext
from chassis.messaging.tables import messaging_tables
from chassis.migrations import create_schema_without_migrations
from chassis.service import Service
from chassis.settings import ServiceSettings
from contracts.notifier import SendNotification

metadata = new_metadata()
messaging = messaging_tables(metadata)
applied = Table(
    "applied",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),  # the order of application
    Column("event_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), server_default=func.now()),
)
totals = Table(
    "totals",
    metadata,
    Column("customer_id", Text, primary_key=True),
    Column("applied", Integer, nullable=False),
)


class LedgerSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifier"
    model_config = SettingsConfigDict(env_prefix="LEDGER_")

    consumer_name: str = "ledger"
    handle_delay_ms: int = 0
    migrate_on_start: bool = False


def build(settings: LedgerSettings) -> Service:
    service = Service(settings, metadata, migrations="unused:migrations")
    consumer = service.consumer(settings.consumer_name)

    @consumer.handles(SendNotification)
    async def apply(event: SendNotification, ctx: MessageContext) -> None:
        if settings.handle_delay_ms:
            await asyncio.sleep(settings.handle_delay_ms / 1000)
        if event.template == "poison":
            raise ValueError("this notification cannot be applied")
        customer = str(event.customer_id)
        await ctx.session.execute(
            insert(applied).values(
                event_id=ctx.envelope.id, customer_id=customer, seq=int(event.params["seq"])
            )
        )
        await ctx.session.execute(
            pg_insert(totals)
            .values(customer_id=customer, applied=1)
            .on_conflict_do_update(
                index_elements=["customer_id"], set_={"applied": totals.c.applied + 1}
            )
        )

    return service


async def create_schema(database_url: str) -> None:
    await create_schema_without_migrations(database_url, metadata)


if __name__ == "__main__":
    main(LedgerSettings, build)
