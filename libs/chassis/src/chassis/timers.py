"""Due times, durably: rows in the service's own database, fired once each.

A service schedules a timer in the transaction that decides it (``schedule``), named by
what it is for (``reminder-72h:<subscription>:<period end>``), so that scheduling it
again moves the one timer rather than adding a second. The worker (``TimerWorker``)
claims due timers with a lease, so that one replica fires each, and fires each in its own
transaction: the timer's handler returns the events it implies, which go to the outbox
in that same transaction as the timer is marked fired. A handler that fails leaves its
timer to be tried again later; a service that was down fires what came due meanwhile
when it is back, once. No in-memory timer, no cron.

Time comes from the service's :class:`~chassis.clock.Clock`, never from the database's
``now()``, so that tests can move it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.clock import Clock
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy
from contracts.envelope import Event

log = logging.getLogger(__name__)


def timer_table(metadata: MetaData) -> Table:
    """Define (once per metadata) the ``timers`` table; ``create_timers_schema_v1`` is its
    migration."""
    if "timers" in metadata.tables:
        return metadata.tables["timers"]
    table = Table(
        "timers",
        metadata,
        Column("timer_id", Text, primary_key=True),
        Column("kind", Text, nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("lease_until", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("fired_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Index("ix_timers_due", table.c.due_at, postgresql_where=text("fired_at IS NULL"))
    return table


@dataclass(frozen=True, slots=True)
class Timer:
    timer_id: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


TimerHandler = Callable[[AsyncSession, Timer, datetime], Awaitable[Sequence[Event]]]
"""Fires one timer inside the transaction that marks it fired, at the clock's time (which
may be well after the due time, after a downtime); returns the events it implies.
Raising leaves the timer to be tried again."""


class Timers:
    """Scheduling and cancelling, inside the caller's transaction."""

    def __init__(self, table: Table) -> None:
        self._table = table
        statement = insert(table).values(
            timer_id=bindparam("timer_id"),
            kind=bindparam("kind"),
            due_at=bindparam("due_at"),
            payload=bindparam("payload"),
            attempts=0,
        )
        # Scheduled again before it fired: moved (and its payload replaced); once fired,
        # it stays fired: what it was for happened.
        self._schedule = statement.on_conflict_do_update(
            index_elements=[table.c.timer_id],
            set_={
                "kind": statement.excluded.kind,
                "due_at": statement.excluded.due_at,
                "payload": statement.excluded.payload,
                "attempts": 0,
                "last_error": None,
            },
            where=table.c.fired_at.is_(None),
        )
        self._cancel = (
            table.delete()
            .where(table.c.timer_id == bindparam("cancelled_id"), table.c.fired_at.is_(None))
            .returning(table.c.timer_id)
        )

    async def schedule(
        self,
        session: AsyncSession,
        timer_id: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        await self.schedule_many(session, [(timer_id, kind, due_at, payload or {})])

    async def schedule_many(
        self, session: AsyncSession, timers: Sequence[tuple[str, str, datetime, Mapping[str, Any]]]
    ) -> None:
        """Several timers in one round trip: ``(timer_id, kind, due_at, payload)`` each."""
        if any(due_at.tzinfo is None for _, _, due_at, _ in timers):
            raise ValueError("a due time is a UTC datetime")
        if timers:
            await session.execute(
                self._schedule,
                [
                    {"timer_id": timer_id, "kind": kind, "due_at": due_at, "payload": dict(payload)}
                    for timer_id, kind, due_at, payload in timers
                ],
            )

    async def cancel(self, session: AsyncSession, timer_id: str) -> bool:
        """Drop a timer that has not fired; True when there was one."""
        return (await session.scalar(self._cancel, {"cancelled_id": timer_id})) is not None


_CLAIM = text(
    """
    UPDATE timers t
    SET lease_until = :now + CAST(:lease AS interval), attempts = t.attempts + 1
    WHERE t.timer_id IN (
        SELECT timer_id FROM timers
        WHERE fired_at IS NULL AND due_at <= :now
          AND (lease_until IS NULL OR lease_until < :now)
        ORDER BY due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING t.timer_id, t.kind, t.due_at, t.payload, t.attempts
    """
)
# Fired only by the lease holder, and only once: another replica whose lease ran out
# meanwhile finds it fired (or locked) and writes nothing.
_LOCK = text(
    "SELECT timer_id FROM timers WHERE timer_id = :timer_id AND fired_at IS NULL "
    "FOR UPDATE SKIP LOCKED"
)
_FIRED = text("UPDATE timers SET fired_at = :now, lease_until = NULL WHERE timer_id = :timer_id")
_AGAIN = text(
    "UPDATE timers SET due_at = :due_at, lease_until = NULL, last_error = :error "
    "WHERE timer_id = :timer_id AND fired_at IS NULL"
)


class TimerWorker:
    """Fires due timers, each by the handler of its kind, once."""

    def __init__(
        self,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        clock: Clock,
        handlers: Mapping[str, TimerHandler],
        *,
        retry: RetryPolicy,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 100,
        concurrency: int = 8,
    ) -> None:
        self._service = service
        self._sessions = sessions
        self._outbox = outbox
        self._clock = clock
        self._handlers = dict(handlers)
        self._retry = retry
        self._lease = lease
        self.batch_size = batch_size
        self._concurrency = concurrency

    async def step(self) -> int:
        """Claim a batch of due timers and fire them, ``concurrency`` at a time, each in its
        own transaction. Handlers read the state they act on afresh, under its lock where
        they change it, so timers of one batch need no order among them (a backlog after a
        downtime is fired several times faster than one by one)."""
        async with transaction(self._sessions) as session:
            result = await session.execute(
                _CLAIM, {"now": self._clock.now(), "lease": self._lease, "limit": self.batch_size}
            )
            # Started in the order they came due (RETURNING keeps none).
            due = sorted((Timer(**row) for row in result.mappings()), key=lambda t: t.due_at)
        slots = asyncio.Semaphore(self._concurrency)

        async def fire(timer: Timer) -> None:
            async with slots:
                await self._fire(timer)

        await asyncio.gather(*(fire(timer) for timer in due))
        return len(due)

    async def _fire(self, timer: Timer) -> None:
        handler = self._handlers.get(timer.kind)
        try:
            async with transaction(self._sessions) as session:
                if await session.scalar(_LOCK, {"timer_id": timer.timer_id}) is None:
                    return
                if handler is None:
                    raise LookupError(f"no handler for timers of kind {timer.kind!r}")
                now = self._clock.now()
                events = await handler(session, timer, now)
                if events:
                    await self._outbox.add_many(session, list(events))
                await session.execute(_FIRED, {"now": now, "timer_id": timer.timer_id})
        except Exception as exc:
            delay = self._retry.delay(timer.attempts)
            log.warning(
                "a timer failed to fire; it is tried again",
                extra={
                    "timer_id": timer.timer_id,
                    "kind": timer.kind,
                    "attempt": timer.attempts,
                    "delay_s": delay.total_seconds(),
                    "error": repr(exc),
                },
            )
            metrics.WORK_OUTCOMES.labels(self._service, "timer", "retry").inc()
            async with transaction(self._sessions) as session:
                await session.execute(
                    _AGAIN,
                    {
                        "due_at": self._clock.now() + delay,
                        "error": repr(exc)[:2000],
                        "timer_id": timer.timer_id,
                    },
                )
            return
        metrics.WORK_OUTCOMES.labels(self._service, "timer", "fired").inc()
