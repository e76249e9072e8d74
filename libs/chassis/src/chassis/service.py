"""The running service: database, outbox relay, consumers, HTTP surface and lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, cast

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sqlalchemy import MetaData

from chassis.db import create_engine, ping, session_factory
from chassis.health import health_router
from chassis.messaging.consumer import EventConsumer
from chassis.messaging.ingress import IngressWriter
from chassis.messaging.kafka import KafkaPublisher, OffsetCommitter, create_broker, subscribe
from chassis.messaging.outbox import Outbox
from chassis.messaging.relay import OutboxRelay
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from chassis.settings import ServiceSettings
from contracts import topics

log = logging.getLogger(__name__)

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
StopHook = Callable[[], Awaitable[None]]


class Service:
    """Everything one service process runs, assembled once and started by the lifespan.

    Start order: migrations, Kafka (retried until it answers), consumers, relay,
    background tasks. Stop order is the reverse, so in-flight batches finish and commit
    their offsets, and the relay publishes what they wrote before the producer closes.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        metadata: MetaData,
        *,
        migrations: str,
        broker: KafkaBroker | None = None,
    ) -> None:
        self.name = type(settings).service_name
        self.settings = settings
        self.migrations = migrations
        self.engine = create_engine(settings)
        self.sessions = session_factory(self.engine)
        self.tables = messaging_tables(metadata)
        self.outbox = Outbox(
            self.tables, source=topics.SERVICE_SOURCES[cast(topics.ServiceName, self.name)]
        )
        self.broker = broker or create_broker(settings)
        self.publisher = KafkaPublisher(settings)
        self.ingress = IngressWriter(self.publisher, source=self.outbox.source)
        self.relay = OutboxRelay(
            service=self.name,
            engine=self.engine,
            tables=self.tables,
            publisher=self.publisher,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
        )
        self.consumers: list[EventConsumer] = []
        self._committers: list[OffsetCommitter] = []
        self._background: list[tuple[str, BackgroundTask]] = []
        self._stop_hooks: list[StopHook] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._broker_ready = asyncio.Event()
        self.stopped = False
        self.app = FastAPI(title=self.name, lifespan=self._lifespan, docs_url=None, redoc_url=None)
        self.app.include_router(
            health_router({"database": self._check_database, "kafka": self._check_kafka})
        )
        FastAPIInstrumentor.instrument_app(self.app, excluded_urls="/healthz,/readyz,/metrics")

    def consumer(self, name: str = "main", *, commit_each: bool = False) -> EventConsumer:
        """A consumer group of this service; register handlers on it before start.

        ``commit_each`` gives every event its own transaction, for handlers that call the
        outside world as they go (see :class:`EventConsumer`).
        """
        consumer = EventConsumer(
            service=self.name,
            name=name,
            sessions=self.sessions,
            tables=self.tables,
            outbox=self.outbox,
            commit_each=commit_each,
        )
        self.consumers.append(consumer)
        return consumer

    def background(self, name: str, task: BackgroundTask) -> None:
        """A long-running task started with the service and cancelled on stop."""
        self._background.append((name, task))

    def on_stop(self, hook: StopHook) -> None:
        """Run ``hook`` on stop, after consumers and background tasks have finished."""
        self._stop_hooks.append(hook)

    async def _check_database(self) -> None:
        await ping(self.engine)

    async def _check_kafka(self) -> None:
        if not self._broker_ready.is_set() or not await self.broker.ping(timeout=2.0):
            raise ConnectionError("Kafka is not reachable")

    async def start(self) -> None:
        if self.settings.migrate_on_start:
            await upgrade_to_head_async(
                self.migrations, self.settings.database_url.get_secret_value()
            )
            log.info("migrations applied")
        for consumer in self.consumers:
            self._committers.append(subscribe(self.broker, consumer, self.settings))
        self._tasks.append(asyncio.create_task(self._connect_broker(), name="kafka-connect"))

    async def _connect_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.start()
                await self.publisher.start()
                break
            except Exception as exc:
                log.warning(
                    "Kafka not reachable yet; retrying",
                    extra={"bootstrap": self.settings.kafka_bootstrap, "error": repr(exc)},
                )
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                with contextlib.suppress(Exception):
                    await self.publisher.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._broker_ready.set()
        log.info("connected to Kafka", extra={"bootstrap": self.settings.kafka_bootstrap})
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for name, task in self._background:
            self._tasks.append(asyncio.create_task(task(), name=name))

    async def stop(self) -> None:
        """Stop in order, each step bounded: a dead broker or database must not hold the
        process past its shutdown budget (the orchestrator would SIGKILL it anyway, and
        everything unfinished is redelivered or republished after a restart)."""
        timeout = self.settings.shutdown_timeout_s
        relay_task = next((t for t in self._tasks if t.get_name() == "outbox-relay"), None)
        for task in self._tasks:
            if task is not relay_task:
                task.cancel()
        if self._broker_ready.is_set():
            for committer in self._committers:
                await _bounded("committing offsets", committer.stopping(), timeout / 4)
            for subscriber in self.broker.subscribers:
                # Waits for the batch in hand: its transaction and offset commit finish.
                await _bounded("stopping a consumer", subscriber.stop(), timeout / 2)
        if relay_task is not None:
            await self.relay.stop()
            try:
                await asyncio.wait_for(relay_task, timeout=timeout)
            except TimeoutError:
                log.warning("outbox not fully flushed before the shutdown timeout")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for hook in self._stop_hooks:
            await _bounded("a stop hook", hook(), timeout / 4)
        await _bounded("closing the producer", self.publisher.stop(), timeout / 4)
        await _bounded("closing the broker connection", self.broker.stop(), timeout / 4)
        await _bounded("closing the database pool", self.engine.dispose(), timeout / 4)
        self.stopped = True
        log.info("stopped")

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


async def _bounded(what: str, step: Awaitable[Any], within_s: float) -> None:
    try:
        await asyncio.wait_for(step, timeout=within_s)
    except TimeoutError:
        log.warning("gave up %s at shutdown after %.0fs", what, within_s)
    except Exception:
        log.exception("failed %s at shutdown", what)
