"""The outbox relay: publishes committed outbox rows to Kafka in order, then marks them sent.

One relay per service is active at a time: it holds a PostgreSQL advisory lock on a
dedicated connection, so with several replicas the others wait as hot standbys and
per-key order holds. Delivery is at-least-once (a crash between publish and mark
resends the same event ids); consumers' inboxes make the effects exactly-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from opentelemetry import propagate, trace
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chassis import metrics
from chassis.messaging.tables import MessagingTables
from chassis.telemetry import tracer

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox_ready"
# One array parameter instead of an IN list of n bound values: the statement text never
# changes, so it stays prepared, and nothing is compiled per batch size.
_MARK_SENT = text("UPDATE outbox SET sent_at = now() WHERE id = ANY(CAST(:ids AS bigint[]))")
_TRACE_HEADERS = frozenset({"traceparent", "tracestate", "baggage"})


class Publisher(Protocol):
    """Sends one record and returns a future of the broker's acknowledgement."""

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]: ...


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    key: str | None
    event_id: str
    event_type: str
    headers: list[list[str]]
    payload: bytes
    created_at: datetime


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        tables: MessagingTables,
        publisher: Publisher,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        keep_sent_for: timedelta = timedelta(days=1),
    ) -> None:
        self._service = service
        self._engine = engine
        self._table = tables.outbox
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._keep_sent_for = keep_sent_for
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.active = False

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Relay until ``stop`` is called; survives database and broker outages."""
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                async with self._engine.connect() as conn:
                    # Each statement stands alone (claim, then mark): no BEGIN/COMMIT trips.
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    try:
                        if await self._acquire(conn):
                            backoff = 0.2
                            await self._relay_while_active(conn)
                        else:
                            await self._sleep(self._poll_interval_s)
                    finally:
                        # Closing the physical connection is what releases the session-level
                        # lock and the LISTEN; returned to the pool, it would keep both.
                        await conn.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"backoff_s": backoff})
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.active = False
                metrics.OUTBOX_RELAY_ACTIVE.labels(self._service).set(0)

    async def stop(self) -> None:
        """Ask the relay to finish: it drains what is pending, then releases the lock."""
        self._stopping.set()
        self._wakeup.set()

    async def _acquire(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(
            text("SELECT pg_try_advisory_lock(hashtext(:name))"),
            {"name": f"outbox-relay:{self._service}"},
        )
        await conn.commit()
        if got:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            if driver is None:
                raise RuntimeError("the relay's connection has no driver connection")
            await driver.add_listener(NOTIFY_CHANNEL, self._on_notify)
            self.active = True
            metrics.OUTBOX_RELAY_ACTIVE.labels(self._service).set(1)
            log.info("outbox relay active")
        return bool(got)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _relay_while_active(self, conn: AsyncConnection) -> None:
        last_housekeeping = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            while await self.relay_once(conn) == self._batch_size:
                pass
            if loop.time() - last_housekeeping > 5.0:
                await self._housekeeping(conn)
                last_housekeeping = loop.time()
            if self._stopping.is_set():
                # Everything committed before stop was asked has now been published.
                return
            await self._sleep(self._poll_interval_s)

    async def relay_once(self, conn: AsyncConnection) -> int:
        """Publish one batch of unsent rows in id order and mark them sent."""
        rows = await self.claim(conn)
        if not rows:
            return 0
        sent = await self.publish(rows)
        await self.mark_sent(conn, sent)
        if len(sent) < len(rows):
            raise RuntimeError(f"published {len(sent)} of {len(rows)} outbox rows")
        return len(rows)

    async def claim(self, conn: AsyncConnection) -> list[OutboxRow]:
        t = self._table
        result = await conn.execute(
            select(
                t.c.id,
                t.c.topic,
                t.c.key,
                t.c.event_id,
                t.c.event_type,
                t.c.headers,
                t.c.payload,
                t.c.created_at,
            )
            .where(t.c.sent_at.is_(None))
            .order_by(t.c.id)
            .limit(self._batch_size)
        )
        rows = [OutboxRow(*row) for row in result.all()]
        await conn.commit()
        return rows

    async def publish(self, rows: Sequence[OutboxRow]) -> list[int]:
        """Send rows in order; return the ids of the leading rows the broker acknowledged.

        Only a prefix counts as sent: if row n fails, rows after it are sent again on
        the next pass, so a key never has a later event marked while an earlier one is not.
        """
        pending: list[tuple[OutboxRow, trace.Span, asyncio.Future[Any]]] = []
        for row in rows:
            headers = {name: value for name, value in row.headers if name not in _TRACE_HEADERS}
            parent = propagate.extract({n: v for n, v in row.headers if n in _TRACE_HEADERS})
            span = tracer().start_span(
                f"{row.topic} publish",
                context=parent,
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": row.topic,
                    "messaging.message.id": row.event_id,
                    "messaging.kafka.message.key": row.key or "",
                    "cloudevents.event_type": row.event_type,
                },
            )
            propagate.inject(headers, context=trace.set_span_in_context(span))
            try:
                future = await self._publisher.send(
                    row.topic,
                    row.key.encode() if row.key is not None else None,
                    row.payload,
                    headers,
                )
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR)
                span.end()
                log.warning("could not enqueue outbox row", extra={"outbox_id": row.id})
                break
            pending.append((row, span, future))

        acked: list[int] = []
        failed = False
        for row, span, future in pending:
            try:
                await future
            except Exception as exc:
                failed = True
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR)
            finally:
                span.end()
            if not failed:
                acked.append(row.id)
        if len(acked) < len(rows):
            metrics.OUTBOX_PUBLISH_FAILURES.labels(self._service).inc()
        for topic, count in Counter(row.topic for row in rows[: len(acked)]).items():
            metrics.OUTBOX_PUBLISHED.labels(self._service, topic).inc(count)
        return acked

    async def mark_sent(self, conn: AsyncConnection, ids: Sequence[int]) -> None:
        if not ids:
            return
        await conn.execute(_MARK_SENT, {"ids": list(ids)})
        await conn.commit()

    async def _housekeeping(self, conn: AsyncConnection) -> None:
        t = self._table
        count, oldest = (
            await conn.execute(
                select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
            )
        ).one()
        metrics.OUTBOX_BACKLOG.labels(self._service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self._service).set(age)
        cutoff = datetime.now(UTC) - self._keep_sent_for
        await conn.execute(t.delete().where(t.c.sent_at < cutoff))
        await conn.commit()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
