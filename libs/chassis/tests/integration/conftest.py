from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from chassis.db import new_metadata, session_factory, transaction
from chassis.messaging.kafka import KafkaPublisher
from chassis.messaging.outbox import Outbox
from chassis.messaging.relay import OutboxRelay
from chassis.messaging.tables import MessagingTables, messaging_tables
from chassis.migrations import create_schema_without_migrations
from chassis.service import Service
from chassis.settings import ServiceSettings
from contracts.envelope import Envelope, Event
from contracts.notifier import SendNotification
from contracts.topics import topic_by_name
from devstack.pytest_plugin import DatabaseFactory, KafkaInfo

from . import ledger

pytestmark = pytest.mark.integration

LEDGER_SCRIPT = Path(ledger.__file__)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; the messaging is asynchronous by design."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def notification(customer: uuid.UUID, seq: int, template: str = "ledger.entry") -> SendNotification:
    return SendNotification(
        notification_id=uuid.uuid4(),
        customer_id=customer,
        template=template,
        params={"seq": seq},
        channel="telegram",
    )


class ProducerSettings(ServiceSettings):
    service_name: ClassVar[str] = "billing"


@dataclass
class Producer:
    """The outbox side of a service ("billing"), with its own database."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tables: MessagingTables
    outbox: Outbox
    bootstrap: str
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _relays: list[OutboxRelay] = field(default_factory=list)
    _publishers: list[KafkaPublisher] = field(default_factory=list)

    async def emit(self, events: Iterable[Event]) -> list[Envelope]:
        async with transaction(self.sessions) as session:
            return [await self.outbox.add(session, event) for event in events]

    async def relay(
        self, relay_class: type[OutboxRelay] = OutboxRelay, **kwargs: Any
    ) -> OutboxRelay:
        publisher = KafkaPublisher(ProducerSettings(kafka_bootstrap=self.bootstrap))
        await publisher.start()
        self._publishers.append(publisher)
        relay = relay_class(
            service="billing",
            engine=self.engine,
            tables=self.tables,
            publisher=publisher,
            **kwargs,
        )
        self._relays.append(relay)
        return relay

    async def run_relay(self) -> OutboxRelay:
        relay = await self.relay()
        self._tasks.append(asyncio.create_task(relay.run()))
        return relay

    async def unsent(self) -> int:
        async with self.engine.connect() as conn:
            t = self.tables.outbox
            return int(await conn.scalar(select(func.count()).where(t.c.sent_at.is_(None))) or 0)

    async def close(self) -> None:
        for relay in self._relays:
            await relay.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for publisher in self._publishers:
            await publisher.stop()
        await self.engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def producer(database_factory: DatabaseFactory, kafka: KafkaInfo) -> AsyncIterator[Producer]:
    url = await database_factory("producer")
    metadata = new_metadata()
    tables = messaging_tables(metadata)
    await create_schema_without_migrations(url, metadata)
    engine = create_async_engine(url, pool_size=5)
    producer = Producer(
        engine=engine,
        sessions=session_factory(engine),
        tables=tables,
        outbox=Outbox(tables, source="/vpn/billing"),
        bootstrap=kafka.bootstrap,
    )
    yield producer
    await producer.close()


@dataclass
class Ledger:
    """Reads what the ledger consumer service applied."""

    url: str
    engine: AsyncEngine

    async def applied_rows(self, customers: Iterable[uuid.UUID]) -> list[tuple[int, str, str, int]]:
        names = [str(c) for c in customers]
        t = ledger.applied
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(t.c.id, t.c.event_id, t.c.customer_id, t.c.seq)
                .where(t.c.customer_id.in_(names))
                .order_by(t.c.id)
            )
            return [tuple(row) for row in result.all()]  # type: ignore[misc]

    async def count(self, customers: Iterable[uuid.UUID]) -> int:
        return len(await self.applied_rows(customers))

    def settings(self, bootstrap: str, **overrides: Any) -> ledger.LedgerSettings:
        values: dict[str, Any] = {"database_url": self.url, "kafka_bootstrap": bootstrap}
        return ledger.LedgerSettings(**(values | overrides))


@pytest_asyncio.fixture(loop_scope="session")
async def ledger_db(database_factory: DatabaseFactory) -> AsyncIterator[Ledger]:
    url = await database_factory("ledger")
    await ledger.create_schema(url)
    engine = create_async_engine(url, pool_size=2)
    yield Ledger(url, engine)
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def run_ledger(
    ledger_db: Ledger, kafka: KafkaInfo
) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    """Start the ledger service in this process; each test gets its own consumer group."""
    started: list[Service] = []
    group = f"ledger-{uuid.uuid4().hex[:8]}"

    async def start(**overrides: Any) -> Service:
        overrides.setdefault("consumer_name", group)
        service = ledger.build(ledger_db.settings(kafka.bootstrap, **overrides))
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        if not service.stopped:
            await service.stop()


@dataclass
class LedgerProcess:
    """The ledger service as a separate OS process, so a test can SIGKILL it."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(LEDGER_SCRIPT)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=30)


@pytest.fixture
def ledger_process(
    ledger_db: Ledger, kafka: KafkaInfo, tmp_path: Path
) -> Iterator[Callable[..., LedgerProcess]]:
    processes: list[LedgerProcess] = []

    def make(**settings: Any) -> LedgerProcess:
        env = dict(os.environ)
        env.update(
            {
                "LEDGER_DATABASE_URL": ledger_db.url,
                "LEDGER_KAFKA_BOOTSTRAP": kafka.bootstrap,
                "LEDGER_HTTP_PORT": "0",
                "LEDGER_LOG_LEVEL": "INFO",
            }
        )
        env.update({f"LEDGER_{k.upper()}": str(v) for k, v in settings.items()})
        process = LedgerProcess(env, tmp_path / f"ledger-{len(processes)}.log")
        processes.append(process)
        return process

    yield make
    for process in processes:
        sys.stderr.write(f"--- {process.log_path.name}\n{process.log_tail()}\n")
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


async def read_topic(bootstrap: str, topic: str, *, idle_s: float = 1.5) -> list[Any]:
    """Every record now on ``topic``, from the beginning, without joining a group.

    Reads until the topic stays quiet for ``idle_s`` rather than up to the end offsets,
    which the embedded broker reports wrongly.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(topic_by_name(topic).partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        while batch := await consumer.getmany(timeout_ms=int(idle_s * 1000)):
            for items in batch.values():
                records.extend(items)
        return records
    finally:
        await consumer.stop()
