"""The idempotent consumer: handles Kafka batches exactly once per event id.

A batch is handled in one database transaction that first records every event id in
the ``inbox`` (``ON CONFLICT DO NOTHING``), runs the handlers for the ids that were
new, and commits; only then are the Kafka offsets committed. A redelivered event finds
its inbox row and changes nothing. A message that cannot be parsed, or whose handler
fails for a reason retrying will not fix, goes to the service's dead-letter topic with
the error, in the same transaction, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar, cast

from opentelemetry import propagate, trace
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import MessagingTables
from chassis.telemetry import tracer
from contracts import topics
from contracts.envelope import Envelope, Event, decode

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


Outcome = Literal["processed", "rejected", "duplicate"]


class RetryLater(Exception):
    """Raised by a handler when the batch should be redelivered after a backoff.

    ``after_s`` is the least the redelivery should wait, when the failing party said so
    (Telegram's ``retry_after``).
    """

    def __init__(self, message: str, *, after_s: float | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s


class Record(Protocol):
    """The fields of a Kafka consumer record the consumer reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass
class MessageContext:
    """What a handler gets besides its event: the open transaction and the envelope."""

    session: AsyncSession
    envelope: Envelope
    outbox: Outbox
    topic: str
    partition: int
    offset: int
    committed_callbacks: list[Callable[[], None]] = field(default_factory=list)
    # How ``events_consumed_total`` counts the event: a handler sets ``rejected`` for
    # refused input (forged, unknown, mismatched) or ``duplicate`` for an input seen under
    # another identity (``first_time``); its writes commit either way.
    outcome: Outcome = "processed"

    async def first_time(self, consumer: str, key: str) -> bool:
        """Record a second identity of this input in the inbox, in this transaction.

        For inputs the outside world may send twice under new envelopes (Telegram
        redelivers an update, with its ``update_id``, when a webhook answer was slow):
        ``False`` when ``key`` was recorded before under ``consumer``, and then the
        handler does nothing.
        """
        claimed = await self.session.scalar(
            _CLAIM,
            {
                "consumer": consumer,
                "ids": [key],
                "types": [self.envelope.type],
                "topics": [self.topic],
                "partitions": [self.partition],
                "offsets": [self.offset],
            },
        )
        return claimed is not None

    async def publish(self, event: Event) -> Envelope:
        """Queue an event caused by this one, in this transaction."""
        return await self.outbox.add(self.session, event, cause=self.envelope)

    async def publish_many(self, events: Sequence[Event]) -> list[Envelope]:
        """Queue several events caused by this one, in this transaction, in this order."""
        return await self.outbox.add_many(self.session, list(events), cause=self.envelope)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction has committed, e.g. to wake a worker.

        It is a hint, not a guarantee: a crash right after the commit loses it, so whatever
        it wakes must also find its work by polling.
        """
        if callback not in self.committed_callbacks:
            self.committed_callbacks.append(callback)


Handler = Callable[[Any, MessageContext], Awaitable[None]]
BatchHandler = Callable[[list[tuple[Any, MessageContext]]], Awaitable[None]]

# One statement for the whole batch, whatever its size: its text never changes, so it is
# prepared once per connection instead of compiling a VALUES list per batch.
_CLAIM = text(
    """
    INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset", outcome)
    SELECT :consumer, u.event_id, u.event_type, u.topic, u.partition, u.offset, 'processed'
    FROM unnest(
        CAST(:ids AS text[]), CAST(:types AS text[]), CAST(:topics AS text[]),
        CAST(:partitions AS integer[]), CAST(:offsets AS bigint[])
    ) AS u(event_id, event_type, topic, partition, "offset")
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
    """
)


@dataclass
class _Parsed:
    record: Record
    inbox_id: str
    event_type: str
    envelope: Envelope | None = None
    event: Event | None = None
    error: Exception | None = None
    span_context: Any = field(default=None)


_SQLSTATE_RETRYABLE = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"}


def is_transient(exc: BaseException) -> bool:
    """Failures that a later attempt can succeed at: outages, timeouts, lock conflicts."""
    if isinstance(exc, RetryLater | OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in _SQLSTATE_RETRYABLE
    return False


class _PoisonMessage(Exception):
    def __init__(self, parsed: _Parsed, cause: Exception) -> None:
        super().__init__(str(cause))
        self.parsed = parsed
        self.cause = cause


class EventConsumer:
    """Routes events of the contract types to handlers, exactly once per consumer."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        outbox: Outbox,
        commit_each: bool = False,
    ) -> None:
        self.service = service
        self.name = name
        self.commit_each = commit_each
        self._sessions = sessions
        self._inbox = tables.inbox
        self._outbox = outbox
        self._handlers: dict[str, Handler] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}
        self._topics: set[str] = set()
        self.dead_letter_topic = topics.deadletter_topic_name(cast(topics.ServiceName, service))

    @property
    def group_id(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def topics(self) -> list[str]:
        return sorted(self._topics)

    def handles(
        self, event_type: type[E]
    ) -> Callable[[Callable[[E, MessageContext], Awaitable[None]]], Handler]:
        """Register the handler of one event type (decorator)."""

        def register(fn: Callable[[E, MessageContext], Awaitable[None]]) -> Handler:
            self._register(event_type)
            self._handlers[event_type.event_type] = fn
            return fn

        return register

    def handles_batch(
        self, event_type: type[E]
    ) -> Callable[[Callable[[list[tuple[E, MessageContext]]], Awaitable[None]]], BatchHandler]:
        """Register a handler that takes consecutive events of one type together (decorator).

        For high-volume effects that are cheaper in bulk (one ``executemany`` instead of a
        statement per event). Order is kept: a run is only ever the consecutive events of
        this type in a batch, in offset order, so nothing overtakes anything else.
        """

        def register(
            fn: Callable[[list[tuple[E, MessageContext]]], Awaitable[None]],
        ) -> BatchHandler:
            self._register(event_type)
            self._batch_handlers[event_type.event_type] = fn
            return fn

        return register

    def _register(self, event_type: type[Event]) -> None:
        name = event_type.event_type
        if name in self._handlers or name in self._batch_handlers:
            raise ValueError(f"{name} already has a handler in {self.name}")
        self._topics.add(event_type.topic.name)

    def _handled(self, event_type: str) -> bool:
        return event_type in self._handlers or event_type in self._batch_handlers

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Handle a batch; raises only for transient failures (the caller redelivers)."""
        parsed = [self._parse(r) for r in records]
        relevant = [p for p in parsed if p.error is not None or self._handled(p.event_type)]
        for p in parsed:
            if p.error is None and not self._handled(p.event_type):
                metrics.CONSUMED.labels(self.service, p.event_type, "ignored").inc()
        if not relevant:
            return
        started = time.perf_counter()
        if self.commit_each:
            # Handlers that talk to the outside world as they go (the bot answering a
            # customer): each event commits alone, so a transient failure redelivers only
            # the events not yet done, and nothing already answered is answered again.
            for p in relevant:
                self._count(await self._handle_guarded([p]))
        else:
            self._count(await self._handle_guarded(relevant))
        metrics.HANDLE_SECONDS.labels(self.service).observe(time.perf_counter() - started)

    def _count(self, outcomes: list[tuple[str, str]]) -> None:
        for event_type, outcome in outcomes:
            metrics.CONSUMED.labels(self.service, event_type, outcome).inc()

    async def _handle_guarded(self, batch: list[_Parsed]) -> list[tuple[str, str]]:
        try:
            return await self._handle(batch, isolate=False)
        except _PoisonMessage as poison:
            log.warning(
                "handler failed; handling the batch one event at a time",
                extra={"event_type": poison.parsed.event_type, "error": repr(poison.cause)},
            )
            return await self._handle(batch, isolate=True)

    async def _handle(self, batch: list[_Parsed], *, isolate: bool) -> list[tuple[str, str]]:
        """One transaction: claim the inbox, dead-letter the malformed, run the handlers.

        ``isolate`` runs each event in a savepoint so that one failing handler is
        dead-lettered alone; the first, optimistic pass saves those round trips.
        """
        outcomes: list[tuple[str, str]] = []
        committed_callbacks: list[Callable[[], None]] = []
        async with transaction(self._sessions) as session:
            fresh = await self._claim(session, batch)
            todo: list[_Parsed] = []
            for p in batch:
                if p.inbox_id not in fresh:
                    outcomes.append((p.event_type, "duplicate"))
                elif p.error is not None:
                    fresh.discard(p.inbox_id)
                    await self._dead_letter(session, p, p.error)
                    outcomes.append((p.event_type, "dead_lettered"))
                else:
                    fresh.discard(p.inbox_id)  # a second copy inside the batch is a duplicate
                    todo.append(p)
            for run in self._runs(todo, isolate=isolate):
                try:
                    if isolate:
                        async with session.begin_nested():
                            run_outcomes = await self._run(session, run, committed_callbacks)
                    else:
                        run_outcomes = await self._run(session, run, committed_callbacks)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    if not isolate:
                        raise _PoisonMessage(run[0], exc) from exc
                    log.exception(
                        "event dead-lettered: handler failed",
                        extra={"event_type": run[0].event_type, "event_id": run[0].inbox_id},
                    )
                    await self._dead_letter(session, run[0], exc)
                    outcomes.append((run[0].event_type, "dead_lettered"))
                else:
                    outcomes.extend(
                        (p.event_type, outcome)
                        for p, outcome in zip(run, run_outcomes, strict=True)
                    )
        for callback in committed_callbacks:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")
        return outcomes

    def _runs(self, todo: list[_Parsed], *, isolate: bool) -> list[list[_Parsed]]:
        """Split into handler calls: consecutive events of a batch-handled type go together."""
        runs: list[list[_Parsed]] = []
        for p in todo:
            batchable = not isolate and p.event_type in self._batch_handlers
            if batchable and runs and runs[-1][-1].event_type == p.event_type:
                runs[-1].append(p)
            else:
                runs.append([p])
        return runs

    async def _claim(self, session: AsyncSession, batch: list[_Parsed]) -> set[str]:
        """Record every event id of the batch; returns the ids not seen before."""
        result = await session.execute(
            _CLAIM,
            {
                "consumer": self.name,
                "ids": [p.inbox_id for p in batch],
                "types": [p.event_type for p in batch],
                "topics": [p.record.topic for p in batch],
                "partitions": [p.record.partition for p in batch],
                "offsets": [p.record.offset for p in batch],
            },
        )
        return set(result.scalars())

    def _context(
        self, session: AsyncSession, p: _Parsed, committed_callbacks: list[Callable[[], None]]
    ) -> MessageContext:
        assert p.envelope is not None
        return MessageContext(
            session=session,
            envelope=p.envelope,
            outbox=self._outbox,
            topic=p.record.topic,
            partition=p.record.partition,
            offset=p.record.offset,
            committed_callbacks=committed_callbacks,
        )

    def _span_attributes(self, p: _Parsed) -> dict[str, str | int]:
        return {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": p.record.topic,
            "messaging.consumer.group.name": self.group_id,
            "messaging.message.id": p.inbox_id,
            "messaging.kafka.offset": p.record.offset,
            "messaging.destination.partition.id": str(p.record.partition),
            "cloudevents.event_type": p.event_type,
        }

    async def _run(
        self,
        session: AsyncSession,
        run: list[_Parsed],
        committed_callbacks: list[Callable[[], None]],
    ) -> list[str]:
        """Run one handler call; returns the outcome of each of its events."""
        first = run[0]
        batch_handler = self._batch_handlers.get(first.event_type)
        if batch_handler is None:
            ctx = self._context(session, first, committed_callbacks)
            # The span continues the producer's trace: it is a child of the publish span.
            with tracer().start_as_current_span(
                f"{first.record.topic} process",
                context=first.span_context,
                kind=trace.SpanKind.CONSUMER,
                attributes=self._span_attributes(first),
            ):
                await self._handlers[first.event_type](first.event, ctx)
            return [ctx.outcome]
        links = [
            trace.Link(span, attributes={"messaging.message.id": p.inbox_id})
            for p in run
            if (span := trace.get_current_span(p.span_context).get_span_context()).is_valid
        ]
        with tracer().start_as_current_span(
            f"{first.record.topic} process",
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": first.record.topic,
                "messaging.consumer.group.name": self.group_id,
                "messaging.batch.message_count": len(run),
                "cloudevents.event_type": first.event_type,
            },
        ):
            contexts = [self._context(session, p, committed_callbacks) for p in run]
            await batch_handler([(p.event, ctx) for p, ctx in zip(run, contexts, strict=True)])
        return [ctx.outcome for ctx in contexts]

    def _parse(self, record: Record) -> _Parsed:
        headers = list(record.headers or ())
        raw_id = f"raw:{record.topic}:{record.partition}:{record.offset}"
        carrier = {k: v.decode("latin-1") for k, v in headers if k in ("traceparent", "tracestate")}
        span_context = propagate.extract(carrier)
        try:
            envelope = Envelope.from_headers(headers)
        except ValueError as exc:
            return _Parsed(record, raw_id, "unknown", error=exc, span_context=span_context)
        parsed = _Parsed(
            record, envelope.id, envelope.type, envelope=envelope, span_context=span_context
        )
        if not self._handled(envelope.type):
            return parsed
        try:
            parsed.event = decode(envelope.type, record.value or b"")
        except ValueError as exc:
            parsed.error = exc
        return parsed

    async def _dead_letter(self, session: AsyncSession, p: _Parsed, error: Exception) -> None:
        record = p.record
        dlq_headers = [
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")],
            (topics.DLQ_ERROR, str(error)[:2000].encode()),
            (topics.DLQ_ERROR_TYPE, type(error).__name__.encode()),
            (topics.DLQ_ORIGINAL_TOPIC, record.topic.encode()),
            (topics.DLQ_ORIGINAL_PARTITION, str(record.partition).encode()),
            (topics.DLQ_ORIGINAL_OFFSET, str(record.offset).encode()),
            (topics.DLQ_CONSUMER, self.group_id.encode()),
            (topics.DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]
        await self._outbox.add_raw(
            session,
            topic=self.dead_letter_topic,
            key=record.key.decode("utf-8", errors="replace") if record.key is not None else None,
            event_id=p.inbox_id,
            event_type=p.event_type,
            headers=dlq_headers,
            payload=record.value or b"",
        )
        await session.execute(
            update(self._inbox)
            .where(self._inbox.c.consumer == self.name, self._inbox.c.event_id == p.inbox_id)
            .values(outcome="dead_lettered")
        )
        log.warning(
            "message sent to the dead-letter topic",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_type": type(error).__name__,
                "error": str(error)[:500],
                "dead_letter_topic": self.dead_letter_topic,
            },
        )


MAX_REQUESTED_WAIT_S = 60.0
"""The longest a redelivery waits on a ``retry_after``: a partition is not held longer."""


class Backoff:
    """Exponential backoff between redeliveries of a batch that failed transiently."""

    def __init__(self, first: float = 0.2, cap: float = 10.0) -> None:
        self._first = first
        self._cap = cap
        self._next = first

    async def wait(self, *, at_least_s: float | None = None) -> None:
        """Sleep the next backoff, or longer when the failing party asked for it."""
        asked = min(at_least_s or 0.0, MAX_REQUESTED_WAIT_S)
        await asyncio.sleep(max(self._next, asked))
        self._next = min(self._next * 2, self._cap)

    def reset(self) -> None:
        self._next = self._first
