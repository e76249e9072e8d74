"""Customer segments' SQL: marking a customer due, claiming the due ones, reading their
facts and storing what was computed. The rules are ``billing.domain.segments``; the worker
that runs them is ``billing.segments_worker``.

A customer's ``customer_segments`` row is made due (``next_change_at`` set to now) by
whatever changes one of their facts, in that change's own transaction: registration, a
subscription's end moved (``billing.subscriptions``), a language or a region changed.
Otherwise it is due at the next moment time alone changes the segments.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.orders import COMPLIMENTARY, OrderKind
from billing.domain.segments import Facts
from billing.models import CustomerSegments

# The database's time, not the clock's: the clock is never behind it (it runs ahead only
# in tests), so a row marked is due at the worker's look after ``SETTLE``. Written whether
# or not the row is due already: the row's lock, held until this transaction commits, is
# what keeps a worker from computing the customer from the facts before the change.
SETTLE: Final = timedelta(seconds=10)
"""How long a change waits for the changes that follow it (a purchase, then the region of
its access a moment later) to be computed and published with them, once."""
_MARK: Final = text(
    "UPDATE customer_segments "
    "SET next_change_at = LEAST(next_change_at, now() + CAST(:settle AS interval)) "
    "WHERE customer_id = :id"
)
_REGISTERED: Final = text(
    "INSERT INTO customer_segments (customer_id, next_change_at) VALUES (:id, now()) "
    "ON CONFLICT (customer_id) DO NOTHING"
)


async def facts_changed(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Something the customer's segments depend on changed in this transaction."""
    await session.execute(_MARK, {"id": customer_id, "settle": SETTLE})


async def registered(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """A customer billing did not know: due for a first computation."""
    await session.execute(_REGISTERED, {"id": customer_id})


@dataclass(frozen=True, slots=True)
class Published:
    """What was last computed (and published) for a customer due now."""

    customer_id: uuid.UUID
    segments: tuple[str, ...]
    language: str | None
    region: str | None
    next_change_at: datetime
    computed_at: datetime | None


# Locked until the claiming transaction ends, which computes, stores and publishes: two
# replicas never compute one customer at once, and they never wait for each other.
_CLAIM: Final = text(
    """
    SELECT customer_id, segments, language, region, next_change_at, computed_at
    FROM customer_segments
    WHERE next_change_at <= :now
    ORDER BY next_change_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)


async def claim_due(session: AsyncSession, *, now: datetime, limit: int) -> list[Published]:
    result = await session.execute(_CLAIM, {"now": now, "limit": limit})
    return [Published(**{**row, "segments": tuple(row["segments"])}) for row in result.mappings()]


_FACTS: Final = text(
    f"""
    SELECT c.customer_id, c.language, s.region, s.period_end, t.started_at AS trial_started_at,
        (SELECT min(o.paid_at) FROM orders o
         WHERE o.customer_id = c.customer_id AND o.kind = '{OrderKind.PLAN.value}'
           AND o.paid_at IS NOT NULL AND o.provider <> ALL(CAST(:complimentary AS text[]))
        ) AS first_paid_at
    FROM customers c
    LEFT JOIN subscriptions s ON s.customer_id = c.customer_id
    LEFT JOIN trials t ON t.customer_id = c.customer_id
    WHERE c.customer_id = ANY(CAST(:ids AS uuid[]))
    ORDER BY c.customer_id
    """  # noqa: S608 - a constant of ours, not input
)


async def facts_of(session: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> list[Facts]:
    """The facts of these customers (those billing has a row of), in one statement."""
    result = await session.execute(
        _FACTS, {"ids": list(customer_ids), "complimentary": list(COMPLIMENTARY)}
    )
    return [Facts(**row) for row in result.mappings()]


@dataclass(frozen=True, slots=True)
class Computed:
    customer_id: uuid.UUID
    segments: tuple[str, ...]
    language: str | None
    region: str | None
    next_change_at: datetime | None
    computed_at: datetime


async def store(session: AsyncSession, computed: Sequence[Computed]) -> None:
    """Record what was computed, by primary key, in one round trip."""
    if computed:
        await session.execute(
            update(CustomerSegments),
            [
                {
                    "customer_id": row.customer_id,
                    "segments": list(row.segments),
                    "language": row.language,
                    "region": row.region,
                    "next_change_at": row.next_change_at,
                    "computed_at": row.computed_at,
                }
                for row in computed
            ],
        )
