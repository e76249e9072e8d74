"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opentelemetry import propagate
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from chassis.messaging.tables import MessagingTables
from contracts.envelope import Envelope, Event, encode

# Headers are stored as JSON pairs of text; every header we write is UTF-8 text.
StoredHeaders = list[list[str]]

_COLUMNS = ("topics", "keys", "ids", "types", "headers", "payloads")
# One statement text for any number of rows (arrays in, unnest out): prepared once per
# connection, where a multi-row VALUES list would be compiled anew for each size.
_INSERT_MANY = text(
    """
    INSERT INTO outbox (topic, key, event_id, event_type, headers, payload)
    SELECT u.topic, u.key, u.event_id, u.event_type, u.headers::jsonb, u.payload
    FROM unnest(
        CAST(:topics AS text[]), CAST(:keys AS text[]), CAST(:ids AS text[]),
        CAST(:types AS text[]), CAST(:headers AS text[]), CAST(:payloads AS bytea[])
    ) WITH ORDINALITY AS u(topic, key, event_id, event_type, headers, payload, n)
    ORDER BY u.n
    """
)


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
        """Queue one event; see :meth:`add_many`."""
        envelopes = await self.add_many(
            session, [event], cause=cause, correlation_id=correlation_id
        )
        return envelopes[0]

    async def add_many(
        self,
        session: AsyncSession,
        events: Sequence[Event],
        *,
        cause: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> list[Envelope]:
        """Queue events in order, in one round trip; returns their envelopes.

        ``cause`` is the envelope of the event being handled, when there is one: the new
        events then carry its correlation id and name it as their cause.
        """
        if not events:
            return []
        # The writer's trace context travels with the rows, so the relay's publish span
        # (and the consumer's span after it) join the trace that caused the events.
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        envelopes: list[Envelope] = []
        columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
        for event in events:
            if cause is not None:
                envelope = Envelope.caused_by(cause, event, source=self.source)
            else:
                envelope = Envelope.for_event(
                    event, source=self.source, correlation_id=correlation_id
                )
            headers = _stored(envelope.to_headers())
            headers.extend([name, value] for name, value in carrier.items())
            envelopes.append(envelope)
            columns["topics"].append(event.topic.name)
            columns["keys"].append(event.key())
            columns["ids"].append(envelope.id)
            columns["types"].append(envelope.type)
            columns["headers"].append(json.dumps(headers, separators=(",", ":")))
            columns["payloads"].append(encode(event))
        await session.execute(_INSERT_MANY, columns)
        return envelopes

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
