"""Due times on a real PostgreSQL: fired once, in the outbox's transaction, by one of
several workers; moved by scheduling again; tried again after a failure; fired late
(once) after a downtime; and on the time a test moves."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from chassis.clock import OffsetClock
from chassis.db import session_factory, transaction
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import create_schema_without_migrations
from chassis.timers import Timer, Timers, TimerWorker, timer_table
from chassis.worker import RetryPolicy
from contracts.envelope import Event
from contracts.notifier import SendNotification
from devstack.pytest_plugin import DatabaseFactory

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

metadata = MetaData()
tables = messaging_tables(metadata)
TIMERS = timer_table(metadata)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    timers: Timers
    clock: OffsetClock
    clock_file: Path
    fired: list[str]

    def worker(self, **handlers: Any) -> TimerWorker:
        return TimerWorker(
            "test",
            self.sessions,
            self.outbox,
            self.clock,
            handlers or {"remind": self.remind},
            retry=RetryPolicy(60.0, 60.0),
        )

    async def remind(self, session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        self.fired.append(timer.timer_id)
        return [
            SendNotification(
                notification_id=uuid.uuid5(uuid.NAMESPACE_URL, timer.timer_id),
                customer_id=uuid.UUID(timer.payload["customer"]),
                template="subscription.expiring",
                params={},
                channel="telegram",
            )
        ]

    async def schedule(self, timer_id: str, due_in: timedelta, customer: uuid.UUID) -> None:
        async with transaction(self.sessions) as session:
            await self.timers.schedule(
                session, timer_id, "remind", self.clock.now() + due_in, {"customer": str(customer)}
            )

    async def sent(self, customer: uuid.UUID) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(tables.outbox.c.payload).where(tables.outbox.c.key == str(customer))
            )
            return [json.loads(bytes(row)) for row in rows]

    async def row(self, timer_id: str) -> Any:
        async with self.sessions() as session:
            return (
                await session.execute(select(TIMERS).where(TIMERS.c.timer_id == timer_id))
            ).one()

    def move(self, by: timedelta) -> None:
        OffsetClock.move(self.clock_file, by)
        self.clock._read_at = -1.0  # read the file now, as the next tick would


@pytest_asyncio.fixture(loop_scope="session")
async def world(database_factory: DatabaseFactory, tmp_path: Path) -> AsyncIterator[World]:
    url = await database_factory("timers")
    await create_schema_without_migrations(url, metadata)
    engine = create_async_engine(url)
    clock_file = tmp_path / "clock"
    yield World(
        session_factory(engine),
        Outbox(tables, source="/vpn/test"),
        Timers(TIMERS),
        OffsetClock(clock_file),
        clock_file,
        [],
    )
    await engine.dispose()


async def test_a_timer_fires_once_when_due_with_its_events(world: World) -> None:
    customer = uuid.uuid4()
    await world.schedule("remind:a", timedelta(hours=72), customer)
    worker = world.worker()
    assert await worker.step() == 0  # not due yet

    world.move(timedelta(hours=72, seconds=1))
    assert await worker.step() == 1
    assert await worker.step() == 0
    assert world.fired == ["remind:a"]
    (sent,) = await world.sent(customer)
    assert sent["template"] == "subscription.expiring"
    assert (await world.row("remind:a")).fired_at is not None


async def test_scheduling_again_moves_the_timer_and_a_fired_one_stays_fired(world: World) -> None:
    customer = uuid.uuid4()
    await world.schedule("remind:b", timedelta(hours=1), customer)
    await world.schedule("remind:b", timedelta(hours=5), customer)  # the period moved
    world.move(timedelta(hours=2))
    assert await world.worker().step() == 0
    world.move(timedelta(hours=4))
    assert await world.worker().step() == 1
    await world.schedule("remind:b", timedelta(hours=1), customer)  # replayed: fired already
    world.move(timedelta(hours=2))
    assert await world.worker().step() == 0
    assert world.fired.count("remind:b") == 1


async def test_a_cancelled_timer_never_fires(world: World) -> None:
    customer = uuid.uuid4()
    await world.schedule("remind:c", timedelta(minutes=1), customer)
    async with transaction(world.sessions) as session:
        assert await world.timers.cancel(session, "remind:c")
    world.move(timedelta(minutes=2))
    assert await world.worker().step() == 0
    assert await world.sent(customer) == []


async def test_many_workers_fire_each_timer_once(world: World) -> None:
    """Replicas racing for the same due timers: each fires exactly once."""
    customers = [uuid.uuid4() for _ in range(60)]
    for number, customer in enumerate(customers):
        await world.schedule(f"remind:race:{number}", timedelta(minutes=5), customer)
    world.move(timedelta(minutes=6))
    workers = [world.worker() for _ in range(4)]
    await asyncio.gather(*(worker.step() for worker in workers for _ in range(3)))
    fired = [timer for timer in world.fired if timer.startswith("remind:race:")]
    assert sorted(fired) == sorted(f"remind:race:{n}" for n in range(60))
    for customer in customers:
        assert len(await world.sent(customer)) == 1


async def test_a_failing_handler_leaves_its_timer_to_be_tried_again(world: World) -> None:
    customer = uuid.uuid4()
    await world.schedule("remind:d", timedelta(seconds=1), customer)
    world.move(timedelta(seconds=2))

    async def broken(session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        raise RuntimeError("the template store is down")

    assert await world.worker(remind=broken).step() == 1
    row = await world.row("remind:d")
    assert row.fired_at is None
    assert "template store" in row.last_error
    assert await world.sent(customer) == []
    assert await world.worker().step() == 0  # backed off for a minute
    world.move(timedelta(minutes=1, seconds=1))
    assert await world.worker().step() == 1
    assert len(await world.sent(customer)) == 1


async def test_what_came_due_while_the_service_was_down_fires_once_when_it_is_back(
    world: World,
) -> None:
    customers = [uuid.uuid4() for _ in range(3)]
    for number, customer in enumerate(customers):
        await world.schedule(f"remind:down:{number}", timedelta(hours=number + 1), customer)
    world.move(timedelta(days=2))  # nobody ran meanwhile
    back = world.worker()
    assert await back.step() == 3
    assert await back.step() == 0
    for customer in customers:
        assert len(await world.sent(customer)) == 1


async def test_a_due_time_is_a_utc_datetime(world: World) -> None:
    async with transaction(world.sessions) as session:
        with pytest.raises(ValueError, match="UTC"):
            await world.timers.schedule(session, "x", "remind", datetime(2027, 1, 1))  # noqa: DTZ001 - the mistake tested
    assert world.clock.now().tzinfo is UTC


async def test_the_migration_builds_the_table_the_code_declares(
    database_factory: DatabaseFactory,
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from chassis.migrations import create_timers_schema_v1

    engine = create_async_engine(await database_factory("timers_migration"))
    declared = MetaData()
    timer_table(declared)

    def migrate_and_compare(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        with Operations.context(context):
            create_timers_schema_v1()
        return list(compare_metadata(context, declared))

    async with engine.begin() as conn:
        differences = await conn.run_sync(migrate_and_compare)
    await engine.dispose()
    assert differences == []
