"""The segments worker: computes the segments of the customers due and publishes those
that changed (``CustomerSegmentsChanged``, on the compacted ``billing.segments.v1``).

A customer is due at the next moment time alone changes their segments
(``billing.domain.segments.next_change``), or at once when one of their facts changed
(``billing.segments``). A step claims a batch of due rows under ``FOR UPDATE SKIP
LOCKED`` and computes, stores and publishes them in that one transaction, by the
service's clock: two replicas never compute one customer at once, and a change committed
meanwhile waits for the row's lock and marks it due again, so no customer is left with
segments computed from facts older than their last change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import segments
from billing.domain import segments as rules
from billing.domain.segments import Facts, SegmentTerms
from chassis.clock import Clock
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from contracts.billing import CustomerSegmentsChanged

COMPUTED = Counter(
    "billing_segments_computed_total",
    "Customers whose segments were computed, by outcome (changed: published; unchanged)",
    ["outcome"],
)
LAG = Gauge(
    "billing_segments_lag_seconds",
    "How long past its due time the most overdue customer of the last batch was computed",
)


class SegmentsWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        clock: Clock,
        terms: SegmentTerms,
        *,
        batch_size: int = 500,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._clock = clock
        self._terms = terms
        self.batch_size = batch_size

    async def step(self) -> int:
        """Compute one batch of due customers; returns how many."""
        async with transaction(self._sessions) as session:
            now = self._clock.now()
            due = await segments.claim_due(session, now=now, limit=self.batch_size)
            if not due:
                LAG.set(0)
                return 0
            facts = {
                fact.customer_id: fact
                for fact in await segments.facts_of(session, [row.customer_id for row in due])
            }
            computed: list[segments.Computed] = []
            changed: list[CustomerSegmentsChanged] = []
            for row in due:
                done, event = self._compute(row, facts.get(row.customer_id), now)
                computed.append(done)
                if event is not None:
                    changed.append(event)
            await segments.store(session, computed)
            await self._outbox.add_many(session, changed)
        LAG.set(max(timedelta(0), now - due[0].next_change_at).total_seconds())
        COMPUTED.labels("changed").inc(len(changed))
        COMPUTED.labels("unchanged").inc(len(due) - len(changed))
        return len(due)

    def _compute(
        self, row: segments.Published, fact: Facts | None, now: datetime
    ) -> tuple[segments.Computed, CustomerSegmentsChanged | None]:
        """What to store of a due customer, and the event when anything changed."""
        if fact is None:  # a row without its customer: nothing to compute from
            return segments.Computed(
                row.customer_id, row.segments, row.language, row.region, None, now
            ), None
        found = rules.segments_at(fact, now, self._terms)
        done = segments.Computed(
            fact.customer_id,
            found,
            fact.language,
            fact.region,
            rules.next_change(fact, now, self._terms),
            now,
        )
        before = (row.segments, row.language, row.region)
        if row.computed_at is not None and before == (found, fact.language, fact.region):
            return done, None
        return done, CustomerSegmentsChanged(
            customer_id=fact.customer_id,
            segments=found,
            language=fact.language,
            region=fact.region,
            as_of=now,
        )
