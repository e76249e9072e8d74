"""Subscription periods: when a paid order's access starts and ends. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime
    previous_end: datetime | None
    """End of the access before this order; ``None`` when the order starts a subscription."""

    @property
    def is_extension(self) -> bool:
        return self.previous_end is not None


def next_period(
    current_end: datetime | None,
    paid_at: datetime,
    duration_days: int,
    *,
    served_until: datetime | None = None,
) -> Period:
    """The period one order of ``duration_days`` buys.

    A first order starts at payment. A later one continues from the current end, so paying
    early loses no day. Paid during the grace after the end (until ``served_until``, the
    customer still connected) it continues from the end too: the grace is not free time.
    Paid later, after the suspension, it starts at payment, so the gap is not charged.
    """
    if duration_days < 1:
        raise ValueError("a plan lasts at least one day")
    length = timedelta(days=duration_days)
    if current_end is None:
        return Period(start=paid_at, end=paid_at + length, previous_end=None)
    served = max(current_end, served_until or current_end)
    start = current_end if paid_at < served else paid_at
    return Period(start=start, end=start + length, previous_end=current_end)
