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


def next_period(current_end: datetime | None, paid_at: datetime, duration_days: int) -> Period:
    """The period one order of ``duration_days`` buys.

    A first order starts at payment. A later one continues from the current end, so paying
    early loses no day; after a lapse it starts at payment, so the gap is not charged.
    """
    if duration_days < 1:
        raise ValueError("a plan lasts at least one day")
    length = timedelta(days=duration_days)
    if current_end is None:
        return Period(start=paid_at, end=paid_at + length, previous_end=None)
    start = max(current_end, paid_at)
    return Period(start=start, end=start + length, previous_end=current_end)
