"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import propagate
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from chassis.messaging.tables import MessagingTables
from contracts.envelope import Envelope, Event, encode

# Headers are stored as JSON pairs of text; every header we write is UTF-8 text.
StoredHeaders = list[list[str]]


def _stored(headers: Sequence[tuple[str, bytes]]) -> StoredHeaders:
    return [[name, value.decode("utf-8", errors="replace")] for name, value in headers]


class Outbox:
    """Adds events to the service's outbox table; the relay publishes them after commit.

    ``add`` never commits: the event becomes visible to the relay exactly when the
    caller's state change does, or never if the transaction rolls back.
    """

    def __init__(self, tables: MessagingTables, source: str) -> None:
        self._table = tables.outbox
        self.source = source

    async def add(
        self,
        session: AsyncSession,
        event: Event,
        *,
        cause: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        if cause is not None:
            envelope = Envelope.caused_by(cause, event, source=self.source)
        else:
            envelope = Envelope.for_event(event, source=self.source, correlation_id=correlation_id)
        headers = _stored(envelope.to_headers())
        # The writer's trace context travels with the row, so the relay's publish span
        # (and the consumer's span after it) join the trace that caused the event.
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        headers.extend([name, value] for name, value in carrier.items())
        await session.execute(
            insert(self._table).values(
                topic=event.topic.name,
                key=event.key(),
                event_id=envelope.id,
                event_type=envelope.type,
                headers=headers,
                payload=encode(event),
            )
        )
        return envelope

    async def add_raw(
        self,
        session: AsyncSession,
        *,
        topic: str,
        key: str | None,
        event_id: str,
        event_type: str,
        headers: Sequence[tuple[str, bytes]],
        payload: bytes,
    ) -> None:
        """Queue bytes that are not a contract event (dead letters keep the original value)."""
        await session.execute(
            insert(self._table).values(
                topic=topic,
                key=key,
                event_id=event_id,
                event_type=event_type,
                headers=_stored(headers),
                payload=payload,
            )
        )
