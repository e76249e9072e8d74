"""Background workers that carry out calls to the outside world recorded in the database.

A consumer records what must happen (a panel user to create, a message to send) in its
inbox transaction; a worker claims those rows, makes the slow or failing call outside any
transaction, and records the outcome. The consumer never waits on a third party, and a
third party that is down delays only its own work.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from opentelemetry import propagate, trace
from sqlalchemy import RowMapping, TextClause
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.db import transaction
from chassis.messaging.consumer import Backoff, is_transient
from chassis.telemetry import tracer

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[int]]
T = TypeVar("T")


class Wakeup:
    """Wakes a worker as soon as new work is committed instead of at its next poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, at_most_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), at_most_s)
        self._event.clear()


class Handoff(Generic[T]):
    """Work a consumer just committed, handed to this process's worker without a claim.

    The consumer writes the row already leased to this process and, after commit, puts it
    here; the worker takes it at once, saving the claiming transaction. Should the process
    die first, the lease runs out and any replica's claim finds the row.
    """

    def __init__(self, wakeup: Wakeup) -> None:
        self._items: collections.deque[T] = collections.deque()
        self.wakeup = wakeup

    def put(self, item: T) -> None:
        self._items.append(item)
        self.wakeup.set()

    def take(self, limit: int) -> list[T]:
        taken: list[T] = []
        while self._items and len(taken) < limit:
            taken.append(self._items.popleft())
        return taken

    def __len__(self) -> int:
        return len(self._items)


async def run_worker(
    name: str, step: Step, wakeup: Wakeup, *, poll_interval_s: float, batch_size: int = 1
) -> None:
    """Run ``step`` (which returns how many items it handled) until cancelled.

    Busy while steps come back full (``batch_size`` items); otherwise sleeps until woken
    or ``poll_interval_s`` passes, so that work whose wake-up was lost (a crash, another
    replica) is still found. A step that was not full found everything due: asking
    again at once would only cost an empty query.
    """
    backoff = Backoff(first=0.5, cap=15.0)
    while True:
        try:
            done = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            level = logging.WARNING if is_transient(exc) else logging.ERROR
            log.log(level, "worker step failed", extra={"worker": name}, exc_info=True)
            await backoff.wait()
            continue
        backoff.reset()
        if done < batch_size:
            await wakeup.wait(poll_interval_s)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for work that failed: ``first_delay_s``, doubling, capped."""

    first_delay_s: float
    max_delay_s: float

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed try (the first waits the least)."""
        seconds = self.first_delay_s * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(self.max_delay_s, seconds))


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    statement: TextClause,
    *,
    lease: timedelta,
    limit: int,
    **params: object,
) -> Sequence[RowMapping]:
    """Run a claiming ``UPDATE ... RETURNING`` (bound ``:lease``, ``:limit`` and any
    ``params``) and commit.

    The lease is committed before any outside call, so another replica skips the rows
    until it runs out.
    """
    async with transaction(sessions) as session:
        result = await session.execute(statement, {"lease": lease, "limit": limit, **params})
        return result.mappings().all()


_T = TypeVar("_T")
_R = TypeVar("_R")


async def gather_bounded(
    call: Callable[[_T], Awaitable[_R]], items: Sequence[_T], *, at_once: int
) -> list[_R]:
    """``call`` each item concurrently, at most ``at_once`` at a time; results in order.

    For a worker's calls to a third party: a batch is written in one transaction, but
    its calls go a few at a time (an HTTP pool costs CPU per pooled connection, see
    ``chassis.http``).
    """
    limit = asyncio.Semaphore(at_once)

    async def bounded(item: _T) -> _R:
        async with limit:
            return await call(item)

    return list(await asyncio.gather(*(bounded(item) for item in items)))


def trace_carrier() -> dict[str, str]:
    """The current trace context, to store with work a worker will do later."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextlib.contextmanager
def continuing_trace(
    name: str, carrier: dict[str, str] | None, **attributes: str
) -> Iterator[trace.Span]:
    """A span for deferred work, in the trace of whatever recorded it.

    Events the work writes to the outbox then carry that trace on, so one purchase stays
    one trace across the worker's hop.
    """
    parent = propagate.extract(carrier or {})
    with tracer().start_as_current_span(name, context=parent, attributes=attributes) as span:
        yield span
